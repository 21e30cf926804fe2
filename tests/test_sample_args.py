"""sample's --digit with class names that read as numbers, its cap on the
digits however they are counted, a summary line that cannot be written, and
evaluate --evaluator given a generator: each a one-line error, exit 1."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from keras_mnist_gan.cli import MAX_SAMPLE_DIGITS, main
from keras_mnist_gan.cli.sample import _digit_classes, _resolve_classes
from keras_mnist_gan.evaluation import shipped_model

GENERATOR = shipped_model("generator.keras")
# A run on folders 01/ 1/ 1-2/ 2/ ... 8/: the shipped conditional generator's
# ten classes, named as sorted folders are (label i is NAMES[i]).
NAMES = ["01", "1", "1-2", "2", "3", "4", "5", "6", "7", "8"]


@pytest.fixture(scope="module")
def named_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("named") / "run"
    run.mkdir()
    shutil.copy(GENERATOR, run / "generator.keras")
    (run / "config.json").write_text(json.dumps({"class_names": NAMES}))
    return run / "generator.keras"


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "error:" in err, err
    return err


def drawn(model, digit: str, tmp_path, capsys) -> np.ndarray:
    npy = tmp_path / "d.npy"
    argv = ["sample", "--model", str(model), "--digit", digit, "--seed", "3", "-n", "4"]
    assert main(argv + ["--out", str(tmp_path / "d.png"), "--npy", str(npy)]) == 0, capsys.readouterr().err
    capsys.readouterr()
    return np.load(npy)


@pytest.mark.parametrize(
    "digit, words",
    [
        ("01", ["the class named '01' (class number 0)", "class number 1 (named '1')", "name:01,", "number:1."]),
        ("1-2", ["the class named '1-2' (class number 2)", "and classes 1-2;", "name:1-2,", "number:1-2."]),
        ("1,3", ["'3' is both the class named '3' (class number 4)", "number 3 (named '2')", "name:3,", "number:3."]),
    ],
)
def test_digit_that_is_a_name_and_a_number_is_refused(named_run, digit, words, tmp_path, capsys):
    assert main(["sample", "--model", str(named_run), "--digit", digit, "--out", str(tmp_path / "d.png")]) == 1
    err = one_line_error(capsys)
    assert f"--digit {digit}:" in err and all(w in err for w in words), err
    assert not (tmp_path / "d.png").exists()


def test_every_class_is_reached_by_its_name_and_its_number(named_run, tmp_path, capsys):
    by_number = {c: drawn(GENERATOR, str(c), tmp_path, capsys) for c in (0, 1, 2)}  # no names: numbers
    assert not np.allclose(by_number[0], by_number[1]) and not np.allclose(by_number[1], by_number[2])
    for digit, c in (("name:01", 0), ("number:0", 0), ("0", 0), ("1", 1), ("name:1", 1), ("number:1", 1)):
        np.testing.assert_allclose(drawn(named_run, digit, tmp_path, capsys), by_number[c], atol=1e-6, err_msg=digit)
    np.testing.assert_allclose(drawn(named_run, "name:1-2", tmp_path, capsys), by_number[2], atol=1e-6)
    # number:1-2 is the range: a row of class 1, then a row of class 2, as the
    # unnamed model draws 1-2
    np.testing.assert_allclose(
        drawn(named_run, "number:1-2", tmp_path, capsys), drawn(GENERATOR, "1-2", tmp_path, capsys), atol=1e-6
    )


def test_names_with_commas_and_prefixes_resolve():
    names = ["1", "1,2", "2", "name:x", "x"]
    assert _resolve_classes(_digit_classes("name:1,2"), 5, names, "", "m") == [1]
    assert _resolve_classes(_digit_classes("name:1,name:2"), 5, names, "", "m") == [0, 2]
    assert _resolve_classes(_digit_classes("name:name:x,x"), 5, names, "", "m") == [3, 4]
    with pytest.raises(ValueError, match=r"--digit 1,2: both the class named '1,2' and a list of classes.*name:1,2,"):
        _resolve_classes(_digit_classes("1,2"), 5, names, "", "m")  # and '1' a name and a number
    with pytest.raises(ValueError, match=r"named 'a,b' and a list .* --digit name:a,b, for a list .*number:0,number:2"):
        _resolve_classes(_digit_classes("a,b"), 3, ["a", "a,b", "b"], "", "m")
    assert _resolve_classes(_digit_classes("a,c"), 3, ["a", "a,c", "b"], "", "m") == [1]  # no class c: one name
    with pytest.raises(ValueError, match="has no class names"):
        _resolve_classes(_digit_classes("name:3"), 10, None, "", "m")
    assert _resolve_classes(_digit_classes("number:3,4"), 10, None, "", "m") == [3, 4]


def test_number_prefix_takes_numbers_only(capsys):
    with pytest.raises(SystemExit) as e:
        main(["sample", "--digit", "number:cat"])
    assert e.value.code == 2 and "number: takes a class number" in capsys.readouterr().err


def test_rows_of_digits_are_capped_however_counted(tmp_path, capsys):
    out = tmp_path / "d.png"
    assert main(["sample", "--digit", "0-199", "--cols", "1000", "--out", str(out)]) == 1
    err = one_line_error(capsys)
    assert "--digit 0-199" in err and "200,000 digits" in err and f"at most {MAX_SAMPLE_DIGITS:,}" in err, err
    assert not out.exists()


def test_summary_line_to_a_full_stdout(tmp_path, capsys, monkeypatch):
    class Full:
        def write(self, text):
            raise OSError(28, "No space left on device")

        def flush(self):
            pass

    out = tmp_path / "d.png"
    monkeypatch.setattr(sys, "stdout", Full())
    code = main(["sample", "-n", "4", "--seed", "0", "--out", str(out)])
    monkeypatch.undo()
    assert code == 1
    err = one_line_error(capsys)
    assert f"wrote {out}, but could not write the summary line to standard output (No space left" in err, err
    assert out.stat().st_size > 0


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
def test_sample_to_dev_full_exits_1_with_one_line(tmp_path):
    out = tmp_path / "x.png"
    with open("/dev/full", "w") as full:
        p = subprocess.run(
            [sys.executable, "-m", "keras_mnist_gan", "sample", "--out", str(out), "-n", "4"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=300,
        )
    assert p.returncode == 1, p.stderr
    last = p.stderr.strip().splitlines()
    assert len(last) == 1 and "could not write the summary line to standard output" in last[0], p.stderr
    assert out.is_file()


def test_evaluate_with_a_generator_as_evaluator(tmp_path, capsys):
    assert main(["evaluate", "--model", str(GENERATOR), "--evaluator", str(GENERATOR), "-n", "200"]) == 1
    err = one_line_error(capsys)
    assert f"{GENERATOR}: a digit generator" in err and "not an evaluator" in err, err
    assert "keras-mnist-gan train-evaluator" in err and "saved_models/evaluator.keras" in err, err
