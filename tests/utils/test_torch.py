import pytest

from polymodal.utils._torch import resolve_device, torch_seed, torch_seeded

torch = pytest.importorskip("torch")


def test_auto_device_follows_cuda_availability():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto", "Net").type == expected
    assert resolve_device("cpu", "Net") == torch.device("cpu")


def test_bad_devices_name_the_estimator():
    with pytest.raises(ValueError, match="Net: device='gpu!' is not a torch device"):
        resolve_device("gpu!", "Net")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="torch sees no GPU"):
            resolve_device("cuda", "Net")


def test_seeded_block_is_repeatable_and_leaves_global_state_alone():
    before = torch.get_rng_state()
    with torch_seeded(torch_seed(3), "Net"):
        first = torch.randn(4)
    with torch_seeded(torch_seed(3), "Net"):
        second = torch.randn(4)
    assert torch.equal(first, second)
    assert torch.equal(torch.get_rng_state(), before)
