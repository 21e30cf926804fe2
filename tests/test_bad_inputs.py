"""Every bad input the CLI was tried with: one clear line on stderr, a
non-zero exit, nothing overwritten.

``python tests/test_bad_inputs.py`` prints the README's table from the same
cases.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from keras_mnist_gan.cli import main

# (what, argv with {run} {tiny} {small} {tmp} placeholders, exit code, words the message must hold)
CASES = [
    ("--out holding a different run (other seed)",
     "train --data {tiny} --out {run} --steps 4 --batch-size 20 --seed 9 --quality-n 0", 1, "holds a different run"),
    ("--out holding a different run (other noise dimension)",
     "train --data {tiny} --out {run} --steps 4 --batch-size 20 --noise-dim 64 --quality-n 0", 1, "noise_dim 100 there, 64 now"),
    ("--out holding files this tool did not write",
     "train --data {tiny} --out {foreign} --steps 4 --batch-size 20 --quality-n 0", 1, "did not write"),
    ("--resume with nothing to resume",
     "train --data {tiny} --out {tmp}/empty --steps 4 --batch-size 20 --resume", 1, "no run to resume"),
    ("dataset smaller than one batch (10 digits, batch 50)",
     "train --data {small} --out {tmp}/s --steps 4", 1, "fewer than one batch"),
    ("--data that does not exist", "train --data {tmp}/nope.npz --out {tmp}/x", 1, "no such file"),
    ("--steps 0", "train --steps 0", 2, "must be at least 1"),
    ("--lr-d 5", "train --lr-d 5", 2, "between 0 and 1"),
    ("--steps abc", "train --steps abc", 2, "expected a whole number"),
    ("--out under a regular file", "train --data {tiny} --out {run}/config.json/sub --steps 4", 1,
     "exists and is not a directory"),
    ("sample --model of another model type (the evaluator classifier)",
     "sample --model {evaluator} --out {tmp}/d.png", 1, "not a digit generator"),
    ("sample --model truncated .keras", "sample --model {truncated} --out {tmp}/d.png", 1, "not a .keras file"),
    ("sample --model a text file named .keras", "sample --model {text} --out {tmp}/d.png", 1, "not a .keras file"),
    ("sample --model missing", "sample --model {tmp}/none.keras", 1, "no such file"),
    ("sample --out in a read-only directory", "sample --out {readonly}/d.png", 1, "permission denied"),
    ("sample -n 0", "sample -n 0", 2, "must be at least 1"),
    ("evaluate --model truncated .keras", "evaluate --model {truncated}", 1, "not a .keras file"),
    ("tune with an inverted lr_D range", "tune --data {tiny} --directory {tmp}/t --lr-d-range 1e-3 1e-4", 1,
     "empty or inverted"),
    ("tune --directory holding another project's files",
     "tune --data {tiny} --directory {tmp} --project-name foreign", 1, "not a keras-mnist-gan search"),
    ("tune --max-trials 0", "tune --max-trials 0", 2, "must be at least 1"),
]


def digest(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def places(tmp_path_factory, subset):
    tmp = tmp_path_factory.mktemp("bad")
    tiny, small = tmp / "tiny.npz", tmp / "small.npz"
    np.savez(tiny, x_train=subset.x_train[:200, ..., 0], x_test=subset.x_test[:40, ..., 0])
    np.savez(small, x_train=subset.x_train[:10, ..., 0], x_test=subset.x_test[:10, ..., 0])
    run = tmp / "run"
    assert main(["train", "--data", str(tiny), "--out", str(run), "--steps", "4", "--batch-size", "20",
                 "--warmup-steps", "2", "--quality-n", "0", "--quiet"]) == 0
    foreign = tmp / "foreign"
    foreign.mkdir()
    (foreign / "gan.keras").write_bytes(b"someone else's")
    (foreign / "history.csv").write_text("mine\n")
    good = (run / "generator.keras").read_bytes()
    (tmp / "truncated.keras").write_bytes(good[: len(good) // 2])
    (tmp / "text.keras").write_text("hello")
    readonly = tmp / "readonly"
    readonly.mkdir()
    readonly.chmod(0o555)
    from keras_mnist_gan.evaluation import EVALUATOR_PATH

    return {"tmp": tmp, "tiny": tiny, "small": small, "run": run, "foreign": foreign, "readonly": readonly,
            "truncated": tmp / "truncated.keras", "text": tmp / "text.keras", "evaluator": EVALUATOR_PATH}


def run_case(argv: str, places: dict, capsys) -> tuple[int, str]:
    args = [a.format(**places) for a in argv.split()]
    try:
        code = main(args)
    except SystemExit as e:  # argparse
        code = e.code
    return code, capsys.readouterr().err.strip()


@pytest.mark.parametrize("what, argv, code, words", CASES, ids=[c[0] for c in CASES])
def test_bad_input(what, argv, code, words, places, capsys):
    if "readonly" in argv and os.geteuid() == 0:
        pytest.skip("root ignores directory permissions")
    before = digest(places["tmp"])
    got, err = run_case(argv, places, capsys)
    assert got == code, err
    last = err.splitlines()[-1]
    assert "error:" in last and words in last, err
    after = digest(places["tmp"])
    assert {k: v for k, v in after.items() if k in before} == before, "nothing may be overwritten"


if __name__ == "__main__":
    print("| bad input | command | exit | last line on stderr |\n| --- | --- | --- | --- |")
    sys.exit(pytest.main([__file__, "-q", "-s", "-p", "no:cacheprovider", "-k", "test_table"]))


def test_table(places, capsys, request):
    """With -s, prints the table rows (used by the __main__ block)."""
    if not request.config.getoption("capture") == "no":
        pytest.skip("prints the README table; run: python tests/test_bad_inputs.py")
    rows = []
    for what, argv, code, _ in CASES:
        if "readonly" in argv and os.geteuid() == 0:
            continue
        got, err = run_case(argv, places, capsys)
        msg = err.splitlines()[-1].replace(str(places["tmp"]), "DIR").replace("|", "\\|")
        shown = re.sub(r"\{(\w+)\}", lambda m: m.group(1).upper(), argv)
        rows.append(f"| {what} | `{shown}` | {got} | {msg} |")
    with capsys.disabled():
        print("\n".join(rows))
