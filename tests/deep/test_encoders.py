import importlib
import sys

import pytest

torch = pytest.importorskip("torch")

from polymodal.utils._encoders import ImageEncoder, SequenceEncoder  # noqa: E402
from polymodal.utils._torch import torch_seeded  # noqa: E402


def _image_encoder(seed=0, **params):
    with torch_seeded(seed, "test"):
        return ImageEncoder(1, embedding_dim=8, channels=(4, 8), **params)


@pytest.mark.parametrize("shape", [(2, 1, 4, 4), (3, 1, 16, 16), (1, 1, 9, 31)])
def test_image_encoder_output_shape_for_any_large_enough_size(shape):
    encoder = _image_encoder().eval()

    assert encoder(torch.randn(shape)).shape == (shape[0], 8)


def test_image_encoder_defaults_and_rgb():
    encoder = ImageEncoder(3).eval()

    assert encoder.min_size == 8
    assert encoder(torch.randn(2, 3, 8, 12)).shape == (2, 64)
    assert [name for name, _ in encoder.named_children()] == ["features", "head"]


@pytest.mark.parametrize("shape", [(1, 4, 10), (2, 4, 1), (5, 4, 300)])
def test_sequence_encoder_output_shape_for_any_length(shape):
    with torch_seeded(0, "test"):
        encoder = SequenceEncoder(4, embedding_dim=6, channels=5, kernel_size=4)

    assert encoder(torch.randn(shape)).shape == (shape[0], 6)


def test_seeded_construction_is_deterministic_and_keeps_the_global_rng():
    images = torch.randn(2, 1, 8, 8)
    before = torch.random.get_rng_state()

    first, second = _image_encoder(seed=3).eval(), _image_encoder(seed=3).eval()
    other = _image_encoder(seed=4).eval()

    assert torch.equal(torch.random.get_rng_state(), before)
    assert torch.equal(first(images), second(images))
    assert not torch.equal(first(images), other(images))


@pytest.mark.parametrize(
    ("encoder", "shape"),
    [
        (lambda: _image_encoder(), (3, 1, 8, 8)),
        (lambda: SequenceEncoder(4, embedding_dim=3, channels=2), (3, 4, 12)),
    ],
)
def test_gradients_reach_every_parameter(encoder, shape):
    encoder = encoder()

    encoder(torch.randn(shape)).square().sum().backward()

    for name, parameter in encoder.named_parameters():
        assert parameter.grad is not None, name
        assert parameter.grad.abs().sum() > 0, name


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((1, 1, 3, 8), r"at least 4×4 pixels"),
        ((1, 2, 8, 8), r"\(n, 1, H, W\)"),
        ((1, 8, 8), r"\(n, 1, H, W\)"),
    ],
)
def test_image_encoder_rejects_bad_shapes(shape, message):
    with pytest.raises(ValueError, match=message):
        _image_encoder()(torch.zeros(shape))


@pytest.mark.parametrize("shape", [(1, 4, 0), (1, 3, 10), (4, 10)])
def test_sequence_encoder_rejects_bad_shapes(shape):
    with pytest.raises(ValueError, match=r"\(n, 4, L\) with L >= 1"):
        SequenceEncoder(4)(torch.zeros(shape))


@pytest.mark.parametrize(
    "build",
    [
        lambda: ImageEncoder(0),
        lambda: ImageEncoder(1, channels=()),
        lambda: ImageEncoder(1, channels=(4, 0)),
        lambda: SequenceEncoder(4, kernel_size=0),
    ],
)
def test_invalid_sizes(build):
    with pytest.raises(ValueError, match="ints >= 1"):
        build()


def test_import_without_torch_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.delitem(sys.modules, "polymodal.utils._encoders")

    with pytest.raises(ImportError, match=r'pip install "polymodal\[deep\]"'):
        importlib.import_module("polymodal.utils._encoders")
