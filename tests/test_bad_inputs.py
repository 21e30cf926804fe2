"""Every bad input the CLI was tried with: one clear line on stderr, a
non-zero exit, nothing overwritten.

``python tests/test_bad_inputs.py`` prints the table of docs/bad-inputs.md from the same
cases.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from keras_mnist_gan.cli import main

# (what, argv with {run} {tiny} {small} {tmp} placeholders, exit code, words the message must hold)
CASES = [
    ("a seed beyond 32 bits", "sample --seed 4294967296 --out {tmp}/d.png", 2, "must be at most 4294967295"),
    (
        "export to a name its --format does not fit",
        "export --out {tmp}/g.onnx --format litert",
        1,
        "a litert file's name must end in .tflite",
    ),
    ("export over a folder that is not a SavedModel", "export --out {foreign}", 1, "is not a SavedModel"),
    ("web into a folder of other files", "web --out {foreign}", 1, "holds other files"),
    (
        "--out holding a different run (other seed)",
        "train --data {tiny} --out {run} --steps 4 --batch-size 20 --seed 9 --quality-n 0",
        1,
        "holds a different run",
    ),
    (
        "--out holding a different run (other noise dimension)",
        "train --data {tiny} --out {run} --steps 4 --batch-size 20 --noise-dim 64 --quality-n 0",
        1,
        "noise_dim 100 there, 64 now",
    ),
    (
        "--out holding files this tool did not write",
        "train --data {tiny} --out {foreign} --steps 4 --batch-size 20 --quality-n 0",
        1,
        "did not write",
    ),
    (
        "--resume with nothing to resume",
        "train --data {tiny} --out {tmp}/empty --steps 4 --batch-size 20 --resume",
        1,
        "no run to resume",
    ),
    (
        "dataset smaller than one batch (10 digits, batch 50)",
        "train --data {small} --out {tmp}/s --steps 4",
        1,
        "fewer than one batch",
    ),
    ("--data that does not exist", "train --data {tmp}/nope.npz --out {tmp}/x", 1, "no such file"),
    (
        "--data a folder with no images in it",
        "train --data {noimages} --out {tmp}/x",
        1,
        "holds no images (.png, .jpg",
    ),
    ("--steps 0", "train --steps 0", 2, "must be at least 1"),
    ("info of a file that does not exist", "info {tmp}/nope.keras", 1, "nope.keras: no such file"),
    ("info of a file that is not a model", "info {text}", 1, "not a .keras file (not a zip archive"),
    ("info of a zip archive that is no model", "info {bombnpz}", 1, "not a .keras file (a zip archive without"),
    ("info of a .keras that would inflate to 200 MB", "info {bombkeras}", 1, "refusing to read it"),
    ("info without a file", "info", 2, "the following arguments are required: MODEL"),
    (
        "--conditional with data that has no labels",
        "train --conditional --data {tiny} --out {tmp}/c --steps 8 --warmup-steps 2",
        1,
        "no labels (y_train)",
    ),
    (
        "--digit on an unconditional generator",
        "sample --model {run}/generator.keras --digit 3 --out {tmp}/d.png",
        1,
        "is unconditional",
    ),
    ("--digit that is not one of the generator's classes", "sample --digit 12 --out {tmp}/d.png", 1, "from 0 to 9"),
    ("--lr-d 5", "train --lr-d 5", 2, "between 0 and 1"),
    ("--steps abc", "train --steps abc", 2, "expected a whole number"),
    (
        "--out under a regular file",
        "train --data {tiny} --out {run}/config.json/sub --steps 4",
        1,
        "exists and is not a directory",
    ),
    (
        "sample --model of another model type (the evaluator classifier)",
        "sample --model {evaluator} --out {tmp}/d.png",
        1,
        "not a digit generator",
    ),
    ("sample --model truncated .keras", "sample --model {truncated} --out {tmp}/d.png", 1, "not a .keras file"),
    ("sample --model a text file named .keras", "sample --model {text} --out {tmp}/d.png", 1, "not a .keras file"),
    ("sample --model missing", "sample --model {tmp}/none.keras", 1, "no such file"),
    ("sample --out in a read-only directory", "sample --out {readonly}/d.png", 1, "permission denied"),
    ("sample -n 0", "sample -n 0", 2, "must be at least 1"),
    ("evaluate --model truncated .keras", "evaluate --model {truncated}", 1, "not a .keras file"),
    ("--data a FIFO (open would wait forever)", "train --data {fifo} --out {tmp}/x", 1, "not a regular file (a FIFO)"),
    (
        "--data a device (reading /dev/zero never ends)",
        "train --data /dev/zero --out {tmp}/x",
        1,
        "not a regular file (a character device)",
    ),
    (
        "--data IDX files whose header declares 2^31 digits",
        "train --data {hugeidx} --out {tmp}/x",
        1,
        "more than the 1,073,741,824 bytes",
    ),
    (
        "--data an .npz of 5 MB whose arrays inflate past 1 GiB",
        "train --data {bombnpz} --out {tmp}/x",
        1,
        "more than the 1,024 MiB",
    ),
    ("sample --model a FIFO", "sample --model {fifo} --out {tmp}/d.png", 1, "not a regular file (a FIFO)"),
    (
        "sample --model a .keras whose config.json inflates to 200 MB",
        "sample --model {bombkeras} --out {tmp}/d.png",
        1,
        "member config.json declares 200 MiB",
    ),
    ("evaluate --model the same", "evaluate --model {bombkeras}", 1, "member config.json declares 200 MiB"),
    ("sample --out with an extension no image format has", "sample --out {tmp}/d.txt", 1, "cannot write .txt images"),
    ("sample --out without an extension", "sample --out {tmp}/digits", 1, "has no image extension"),
    ("sample --npy not ending in .npy", "sample --out {tmp}/d.png --npy {tmp}/d.txt", 1, "must end in .npy"),
    ("sample -n 10000000", "sample -n 10000000", 2, "must be at most 100000"),
    ("sample --cols 100000000", "sample --cols 100000000", 2, "must be at most 100000"),
    (
        "sample --interpolate GIF of 5000 digits",
        "sample --interpolate -n 5000 --out {tmp}/w.gif",
        1,
        "at most 400 digits",
    ),
    ("evaluate -n 10000000", "evaluate --model {truncated} -n 10000000", 2, "must be at most 100000"),
    (
        "--steps that end inside the discriminator's warm-up",
        "train --data {tiny} --out {tmp}/w --steps 300",
        1,
        "inside the discriminator's warm-up",
    ),
    (
        "tune --steps-per-trial inside the warm-up (every trial would score the same untrained generator)",
        "tune --data {tiny} --directory {tmp}/tw --steps-per-trial 200",
        1,
        "inside the discriminator's",
    ),
    (
        "--noise-dim 100000 (a 313-million-weight first layer)",
        "train --noise-dim 100000",
        1,
        "--noise-dim must be between 4",
    ),
    (
        "--out where another process is training",
        "train --data {tiny} --out {busy} --steps 8 --batch-size 20 --warmup-steps 2 --quality-n 0",
        1,
        "is training there",
    ),
    (
        "--out whose config.json is a symbolic link to a file elsewhere",
        "train --data {tiny} --out {linked} --steps 8 --batch-size 20 --warmup-steps 2 --quality-n 0",
        1,
        "is a symbolic link",
    ),
    (
        "KERAS_BACKEND naming a backend that is not installed",
        "KERAS_BACKEND={missing_backend} train --steps 8",
        1,
        "is not installed",
    ),
    (
        "tune with an inverted lr_D range",
        "tune --data {tiny} --directory {tmp}/t --lr-d-range 1e-3 1e-4",
        1,
        "empty or inverted",
    ),
    (
        "tune --directory holding another project's files",
        "tune --data {tiny} --directory {tmp} --project-name foreign",
        1,
        "not a keras-mnist-gan search",
    ),
    ("tune --max-trials 0", "tune --max-trials 0", 2, "must be at least 1"),
    (
        "--restart on a folder of the user's own config.json, history.csv and notes",
        "train --data {tiny} --out {mine} --restart --steps 4 --batch-size 20 --quality-n 0",
        1,
        "did not write",
    ),
    ("web over a folder whose copied-in file list names the user's file", "web --out {planted}", 1, "thesis.tex"),
    ("--epochs that end inside the warm-up", "train --data {tiny} --out {tmp}/e --epochs 1", 1, "epochs"),
    (
        "evaluate --evaluator given a generator",
        "evaluate --model {run}/generator.keras --evaluator {run}/generator.keras -n 200",
        1,
        "not an evaluator",
    ),
    ("--digit rows x --cols beyond the cap", "sample --digit 0-9 --cols 20000 --out {tmp}/d.png", 1, "at most"),
    ("--digit a range from high to low", "sample --digit 9-3 --out {tmp}/d.png", 2, "from low to high"),
    (
        "--digit a class name the generator has not",
        "sample --digit 1,seven --out {tmp}/d.png",
        1,
        "has no class names",
    ),
    ("train --batch-size 20000 (tens of GB in one step)", "train --batch-size 20000", 2, "must be at most 1024"),
    ("train --quality-n 1 (no Fréchet distance on one digit)", "train --quality-n 1", 2, "at least 129 digits"),
    ("evaluate -n 1", "evaluate --model {truncated} -n 1", 2, "at least 129 digits"),
    ("tune --quality-n 5", "tune --quality-n 5", 2, "at least 129 digits"),
    (
        "sample --interpolate GIF with --npy (a GIF's digits are frames)",
        "sample --interpolate --out {tmp}/w.gif --npy {tmp}/w.npy",
        1,
        "an interpolation GIF's digits are its frames",
    ),
    (
        "sample a grid too wide for a GIF (3,000 digits in one row)",
        "sample -n 3000 --cols 3000 --out {tmp}/w.gif",
        1,
        "a GIF image holds at most 65,535 a side: give --cols from 3 to 1,092",
    ),
    (
        "sample a grid too wide for a JPEG",
        "sample -n 3000 --cols 3000 --out {tmp}/w.jpg",
        1,
        "a JPEG image holds at most 65,500 a side",
    ),
    (
        "sample a grid too tall for a GIF (one column)",
        "sample -n 3000 --cols 1 --out {tmp}/w.gif",
        1,
        "give --cols from 3 to 1,092",
    ),
    (
        "sample more digits than one WebP grid holds",
        "sample -n 100000 --out {tmp}/w.webp",
        1,
        "so at most 73,984 digits: give fewer (-n)",
    ),
    (
        "sample --out in a folder that does not exist",
        "sample --out {tmp}/nowhere/d.png",
        1,
        "nowhere does not exist; create it first",
    ),
    (
        "sample --npy in a folder that does not exist (nothing written)",
        "sample --out {tmp}/d.png --npy {tmp}/nowhere/d.npy",
        1,
        "nowhere/d.npy: its folder",
    ),
    (
        "evaluate --json in a folder that does not exist (said before evaluating)",
        "evaluate --model {run}/generator.keras --json {tmp}/nowhere/e.json",
        1,
        "nowhere does not exist",
    ),
    (
        "train-evaluator --out not ending in .keras (said before training)",
        "train-evaluator --out {tmp}/ev.txt",
        1,
        "must end in .keras",
    ),
    (
        "sample --interpolate walks too long for one PNG row",
        "sample --interpolate -n 2000 --cols 2000 --out {tmp}/w.png",
        1,
        "give --cols from 2 to 1,092",
    ),
]


def digest(root: Path) -> dict:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def places(tmp_path_factory, subset):
    tmp = tmp_path_factory.mktemp("bad")
    tiny, small = tmp / "tiny.npz", tmp / "small.npz"
    np.savez(tiny, x_train=subset.x_train[:200, ..., 0], x_test=subset.x_test[:40, ..., 0])
    np.savez(small, x_train=subset.x_train[:10, ..., 0], x_test=subset.x_test[:10, ..., 0])
    run = tmp / "run"
    assert (
        main(
            [
                "train",
                "--data",
                str(tiny),
                "--out",
                str(run),
                "--steps",
                "4",
                "--batch-size",
                "20",
                "--warmup-steps",
                "2",
                "--quality-n",
                "0",
                "--quiet",
            ]
        )
        == 0
    )
    noimages = tmp / "noimages"
    (noimages / "cat").mkdir(parents=True)
    (noimages / "README.txt").write_text("no images here")
    foreign = tmp / "foreign"
    foreign.mkdir()
    (foreign / "gan.keras").write_bytes(b"someone else's")
    (foreign / "history.csv").write_text("mine\n")
    mine = tmp / "mine"
    mine.mkdir()
    (mine / "config.json").write_text('{"my": "settings"}')
    (mine / "history.csv").write_text("step,loss\n1,0.5\n")
    (mine / "thesis.tex").write_text("years of work")
    planted = tmp / "planted"
    planted.mkdir()
    (planted / ".keras-mnist-gan-files.json").write_text('{"written_by": "keras-mnist-gan", "files": ["thesis.tex"]}')
    (planted / "thesis.tex").write_text("years of work")
    good = (run / "generator.keras").read_bytes()
    (tmp / "truncated.keras").write_bytes(good[: len(good) // 2])
    (tmp / "text.keras").write_text("hello")
    readonly = tmp / "readonly"
    readonly.mkdir()
    readonly.chmod(0o555)
    from keras_mnist_gan.evaluation import EVALUATOR_PATH
    from keras_mnist_gan.rundir import RunLock

    busy = tmp / "busy"
    busy.mkdir()
    lock = RunLock(str(busy)).__enter__()  # held (by this process) while the module's tests run
    linked = tmp / "linked"
    shutil.copytree(run, linked)
    (tmp / "elsewhere.json").write_text((linked / "config.json").read_text())
    (linked / "config.json").unlink()
    (linked / "config.json").symlink_to(tmp / "elsewhere.json")
    missing = next((b for b in ("openvino", "jax", "torch") if importlib.util.find_spec(b) is None), None)

    return {
        "busy": busy,
        "_lock": lock,
        "linked": linked,
        "missing_backend": missing,
        "tmp": tmp,
        "tiny": tiny,
        "small": small,
        "run": run,
        "foreign": foreign,
        "mine": mine,
        "planted": planted,
        "noimages": noimages,
        "readonly": readonly,
        "truncated": tmp / "truncated.keras",
        "text": tmp / "text.keras",
        "evaluator": EVALUATOR_PATH,
        **hard_places(tmp),
    }


def hard_places(tmp: Path) -> dict:
    """Inputs that would hang or exhaust memory if read naively (see
    tests/test_hard_inputs.py): a FIFO, an IDX header declaring 2^31
    digits, an .npz and a .keras that inflate to gigabytes / 200 MB."""
    import io
    import struct
    import zipfile

    fifo = tmp / "fifo"
    os.mkfifo(fifo)
    hugeidx = tmp / "hugeidx"
    hugeidx.mkdir()
    (hugeidx / "train-images-idx3-ubyte").write_bytes(struct.pack(">BBBB3I", 0, 0, 8, 3, 2**31, 28, 28) + bytes(784))
    header = io.BytesIO()
    images = (1 << 30) // 784 + 1000
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": (images, 28, 28)})
    with zipfile.ZipFile(tmp / "bomb.npz", "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        with z.open("x_train.npy", "w", force_zip64=True) as f:
            f.write(header.getvalue())
            for _ in range(-(-images * 784 // (1 << 24))):  # a few bytes over: np.load ignores them
                f.write(bytes(1 << 24))
        z.writestr("x_test.npy", b"")
    with zipfile.ZipFile(tmp / "bomb.keras", "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("metadata.json", "{}")
        with z.open("config.json", "w", force_zip64=True) as f:
            for _ in range(200):
                f.write(b" " * (1 << 20))
    return {"fifo": fifo, "hugeidx": hugeidx, "bombnpz": tmp / "bomb.npz", "bombkeras": tmp / "bomb.keras"}


def run_case(argv: str, places: dict, capsys) -> tuple[int, str]:
    args = [a.format(**places) for a in argv.split()]
    env = {}
    while args and re.fullmatch(r"[A-Z_]+=\S*", args[0]):  # VAR=value before the command
        name, value = args.pop(0).split("=", 1)
        env[name] = value
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        code = main(args)
    except SystemExit as e:  # argparse
        code = e.code
    finally:
        for name, value in saved.items():
            os.environ.pop(name) if value is None else os.environ.__setitem__(name, value)
    return code, capsys.readouterr().err.strip()


@pytest.mark.parametrize("what, argv, code, words", CASES, ids=[c[0] for c in CASES])
def test_bad_input(what, argv, code, words, places, capsys):
    if "{missing_backend}" in argv and places["missing_backend"] is None:
        pytest.skip("every Keras backend is installed here")
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
    """With -s, prints the table rows (used by the __main__ block), each
    checked as test_bad_input checks it: the table shows what was tested."""
    if not request.config.getoption("capture") == "no":
        pytest.skip("prints the docs' table; run: python tests/test_bad_inputs.py")
    rows = []
    for what, argv, code, words in CASES:
        if "readonly" in argv and os.geteuid() == 0:
            continue
        if "{missing_backend}" in argv and places["missing_backend"] is None:
            continue
        got, err = run_case(argv, places, capsys)
        assert got == code and words in err.splitlines()[-1], (what, err)
        msg = (
            err.splitlines()[-1]
            .replace(str(places["tmp"]), "DIR")  # no paths of this machine in the README
            .replace(str(places["evaluator"]), "EVALUATOR")
            .replace("|", "\\|")
        )
        msg = re.sub(r"\bPID \d+", "PID N", msg)  # the table is the same from run to run
        shown = re.sub(r"\{(\w+)\}", lambda m: m.group(1).upper(), argv)
        rows.append(f"| {what} | `{shown}` | {got} | {msg} |")
    with capsys.disabled():
        print("\n".join(rows))
