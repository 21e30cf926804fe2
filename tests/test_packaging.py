"""What `pip install .` (not editable) puts into the installed package."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(sys.version_info < (3, 11), reason="reads pyproject.toml with tomllib (Python 3.11+)")
def test_every_subpackage_and_the_web_page_are_installed():
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    package = ROOT / "keras_mnist_gan"
    with_code = {
        "keras_mnist_gan." + ".".join(p.parent.relative_to(package).parts)
        for p in package.rglob("*.py")
        if p.parent != package and "node_modules" not in p.parts
    }
    assert with_code <= listed, f"subpackages missing from pyproject.toml: {sorted(with_code - listed)}"
    data = config["package-data"]
    for where in ("keras_mnist_gan.web", "keras_mnist_gan.web.vendor"):
        folder = ROOT.joinpath(*where.split("."))
        files = [p.name for p in folder.iterdir() if p.is_file() and p.name != "vendor.sh"]
        for name in files:
            assert any(Path(name).match(pattern) for pattern in data[where]), f"{where}: {name} not installed"
        assert where in listed
