"""Run every gallery example (examples/plot_*.py) from top to bottom."""

import runpy
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parents[1] / "examples"
SCRIPTS = sorted(path.name for path in EXAMPLES.glob("plot_*.py"))

# Examples that take more than a few seconds on two CPU cores.
SLOW = {
    "plot_breast_cancer.py",
    "plot_chinese_notes.py",
    "plot_dicom_images.py",
    "plot_drug_discovery.py",
    "plot_grid_search_fusion.py",
    "plot_late_fusion_missing.py",
    "plot_modality_importance.py",
    "plot_pathology.py",
    "plot_quick_start.py",
}
# Optional packages an example needs beyond the test extras; the example is
# skipped where one is not installed.
NEEDS = {
    "plot_breast_cancer.py": ["sksurv"],
    "plot_chinese_notes.py": ["jieba"],
    "plot_dicom_images.py": ["pydicom", "skimage"],
    "plot_drug_discovery.py": ["rdkit"],
    "plot_drug_molecules.py": ["rdkit"],
    "plot_late_fusion_missing.py": ["skimage"],
    "plot_modality_importance.py": ["skimage"],
    "plot_pathology.py": ["skimage"],
    "plot_quick_start.py": ["skimage"],
}


def test_examples_exist():
    assert len(SCRIPTS) >= 9, SCRIPTS
    assert (EXAMPLES / "README.rst").is_file()


@pytest.mark.parametrize(
    "script",
    [
        pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name
        for name in SCRIPTS
    ],
)
def test_example_runs(script, monkeypatch, tmp_path):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    for module in ["matplotlib", *NEEDS.get(script, [])]:
        pytest.importorskip(module)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Files an example writes outside a temporary folder land in tmp_path.
    monkeypatch.chdir(tmp_path)
    try:
        runpy.run_path(str(EXAMPLES / script), run_name="__main__")
    finally:
        plt.close("all")
