"""examples/quickstart.ipynb runs from top to bottom (with fewer steps: the
step counts in its first code cell are the only thing changed)."""

import os
import re
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "quickstart.ipynb"
FEWER_STEPS = {"STEPS": 10, "WARMUP": 2, "TUNE_STEPS": 4}


def shortened(nb):
    """The notebook with the step counts of its first code cell made small."""
    first = next(cell for cell in nb.cells if cell.cell_type == "code")
    for name, value in FEWER_STEPS.items():
        first.source, n = re.subn(rf"^{name} = \d+", f"{name} = {value}", first.source, flags=re.M)
        assert n == 1, f"the notebook's first code cell sets {name} once"
    return nb


def test_notebook_sets_the_step_counts_the_test_shortens():
    nbformat = pytest.importorskip("nbformat")
    shortened(nbformat.read(NOTEBOOK, as_version=4))


@pytest.mark.slow
def test_quickstart_notebook_runs(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = shortened(nbformat.read(NOTEBOOK, as_version=4))
    for k in [k for k in os.environ if k.startswith("KERAS_MNIST_GAN")]:
        monkeypatch.delenv(k)
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # a fresh machine: the shipped digits
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home" / ".keras"))
    nbclient.NotebookClient(
        nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = "".join(o.get("text", "") for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs)
    difference = float(re.search(r"largest difference after loading: (\S+)", outputs).group(1))
    assert difference < 1e-5
    assert "(None, 28, 28, 1)" in outputs and "val_fid" in outputs
    assert (tmp_path / "quickstart" / "gan.keras").is_file()
    images = [o for cell in nb.cells for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 2  # the curves and grid, then the sevens
