"""The README's Python block runs as written in a fresh folder (with fewer
steps: the numbers of steps are the only thing changed)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
# Shorter runs, the same calls (train()'s warm-up is the preset's 300 steps).
FEWER_STEPS = [
    (r"steps=1000", "steps=310"),
    (r"steps_per_epoch=500", "steps_per_epoch=4"),
    (r"DiscriminatorWarmup\(300\)", "DiscriminatorWarmup(2)"),
]


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_readme_has_one_python_block_that_uses_the_short_runs():
    blocks = python_blocks()
    assert len(blocks) == 1
    for pattern, _ in FEWER_STEPS:
        assert re.search(pattern, blocks[0]), pattern


@pytest.mark.slow
def test_readme_python_block_runs_in_a_fresh_folder(tmp_path):
    code = python_blocks()[0]
    for pattern, short in FEWER_STEPS:
        code = re.sub(pattern, short, code)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KERAS_MNIST_GAN")}
    env.update(HOME=str(tmp_path / "home"), KERAS_HOME=str(tmp_path / "home" / ".keras"))
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (tmp_path / "api_run" / "generator.keras").is_file() and (tmp_path / "api_run" / "gan.keras").is_file()
