"""The README's code blocks run as written, in order, in a fresh folder (with
fewer steps and digits: those numbers are the only thing changed)."""

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


# The bash block's commands, shortened the same way (its `pip install` is
# what the test environment already did).
SHORTER_COMMANDS = [
    (r"keras-mnist-gan train --out run$", "keras-mnist-gan train --out run --steps 310"),
    (
        r"keras-mnist-gan evaluate --model run/generator.keras$",
        "keras-mnist-gan evaluate --model run/generator.keras -n 500",
    ),
]


def bash_commands() -> list[str]:
    block = re.findall(r"```bash\n(.*?)```", README.read_text(), re.S)[0]
    lines = [line.split("#", 1)[0].strip() for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("pip ")]


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_readme_has_one_python_block_that_uses_the_short_runs():
    blocks = python_blocks()
    assert len(blocks) == 1
    for pattern, _ in FEWER_STEPS:
        assert re.search(pattern, blocks[0]), pattern


def test_readme_bash_block_is_the_commands_the_test_shortens():
    commands = bash_commands()
    assert [c.split()[1] for c in commands] == ["train", "sample", "evaluate"]
    for pattern, _ in SHORTER_COMMANDS:
        assert any(re.search(pattern, c) for c in commands), pattern


@pytest.mark.slow
def test_readme_blocks_run_in_order_in_a_fresh_folder(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KERAS_MNIST_GAN")}
    env.update(HOME=str(tmp_path / "home"), KERAS_HOME=str(tmp_path / "home" / ".keras"))
    cli = Path(sys.executable).parent / "keras-mnist-gan"
    for command in bash_commands():
        for pattern, short in SHORTER_COMMANDS:
            command = re.sub(pattern, short, command)
        argv = [str(cli), *command.split()[1:]]
        r = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=900)
        assert r.returncode == 0, (command, r.stderr[-3000:])
    assert (tmp_path / "run" / "generator.keras").is_file() and (tmp_path / "sevens.png").is_file()
    code = python_blocks()[0]
    for pattern, short in FEWER_STEPS:
        code = re.sub(pattern, short, code)
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (tmp_path / "api_run" / "generator.keras").is_file() and (tmp_path / "api_run" / "gan.keras").is_file()
