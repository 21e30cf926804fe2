"""What a model file records of its training, and how `info` reads it back.

A .keras file's metadata.json is input from whoever made the file: `info`
shows a field of the wrong type as unreadable (naming it), escapes control
characters so no field drives the terminal or forges a line, and a file
whose metadata cannot be parsed at all gets one line. What the package
records names data and paths without the user's folders, and nothing of
the machine."""

import json
import os
import shutil
import zipfile
from types import SimpleNamespace

import pytest

from keras_mnist_gan.cli import main
from keras_mnist_gan.data import load_npz
from keras_mnist_gan.evaluation import shipped_model
from keras_mnist_gan.modelinfo import command_without_paths, generator_metadata
from keras_mnist_gan.presets import PRESETS
from keras_mnist_gan.saving import METADATA_KEY, read_metadata


def _shipped_metadata() -> dict:
    with zipfile.ZipFile(shipped_model("generator.keras")) as z:
        return json.loads(z.read("metadata.json"))


def _with_metadata(tmp_path, metadata: dict | bytes, name: str = "model.keras"):
    """The shipped generator copied to ``tmp_path`` with its metadata.json
    replaced by ``metadata`` (a dict written as JSON, or raw bytes)."""
    source, path = shipped_model("generator.keras"), tmp_path / name
    shutil.copyfile(source, tmp_path / "copy.keras")
    text = metadata if isinstance(metadata, bytes) else json.dumps(metadata).encode()
    with zipfile.ZipFile(tmp_path / "copy.keras") as old, zipfile.ZipFile(path, "w") as new:
        for info in old.infolist():
            if info.filename != "metadata.json":
                new.writestr(info, old.read(info))
        new.writestr("metadata.json", text)
    return path


def _with_record(tmp_path, **changes):
    """The shipped generator with fields of its training record changed;
    ``data__x=v`` changes the ``data`` object's field ``x``."""
    metadata = _shipped_metadata()
    record = metadata[METADATA_KEY]
    for key, value in changes.items():
        if "__" in key:
            outer, inner = key.split("__")
            record[outer][inner] = value
        else:
            record[key] = value
    return _with_metadata(tmp_path, metadata)


def _info(path, capsys) -> tuple[int, str, str]:
    code = main(["info", str(path)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"preset": 7}, "preset"),
        ({"preset_changes": [1, 2]}, "preset_changes"),
        ({"preset_settings": "fast"}, "preset_settings"),
        ({"steps": "many"}, "steps"),
        ({"seed": 1.5}, "seed"),
        ({"steps": True}, "steps"),
        ({"wall_s": "an hour"}, "wall_s"),
        ({"command": ["keras-mnist-gan", "train"]}, "command"),
        ({"data__train_images": "60000"}, "data.train_images"),
        ({"data__source": {"path": "x"}}, "data.source"),
        ({"data__sha256": "not-a-hash"}, "data.sha256"),
        ({"quality_at_end": [9.6]}, "quality_at_end"),
        ({"quality_at_end": {"val_fid": "bad", "val_score": 9.6, "n": 1000}}, "quality_at_end.val_fid"),
        ({"quality_at_end": {"val_fid": 9.6, "n": "all"}}, "quality_at_end.n"),
        ({"evaluation": "none"}, "evaluation"),
        ({"evaluation": {"n": 100, "fid": "x", "real_floor": {"fid": None}}}, "evaluation.fid"),
        ({"evaluation": {"n": 100, "fid": 2.0, "real_floor": {"fid": "low"}}}, "evaluation.real_floor.fid"),
        ({"evaluation": {"class_share": ["a", "b"]}}, "evaluation.class_share"),
        ({"tuning": {"lr": {"deep": [1]}}}, "tuning"),
    ],
)
def test_a_field_of_the_wrong_type_is_shown_unreadable_naming_it(tmp_path, capsys, changes, field):
    code, out, err = _info(_with_record(tmp_path, **changes), capsys)
    assert code == 0, err
    assert "Traceback" not in out + err and err == ""
    line = next(line for line in out.splitlines() if f"field {field} of metadata.json" in line)
    assert "(unreadable" in line, out
    # The rest of the record is still shown.
    assert "class-conditional generator (10 classes)" in out and "training:" in out


def test_a_record_of_the_wrong_type_is_unreadable_and_the_model_still_described(tmp_path, capsys):
    metadata = {**_shipped_metadata(), METADATA_KEY: ["preset", "quality"]}
    code, out, err = _info(_with_metadata(tmp_path, metadata), capsys)
    assert code == 0 and "Traceback" not in out + err
    assert f"training: (unreadable: field {METADATA_KEY} of metadata.json is a list" in out
    assert "parameters:" in out


@pytest.mark.parametrize(
    "text",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"keras_mnist_gan": ' + b'{"a": ' * 100_000 + b"1" + b"}" * 100_001,
        b"{not json",
        b"[1, 2]",
    ],
    ids=["deep-array", "deep-object", "not-json", "not-an-object"],
)
def test_metadata_that_cannot_be_parsed_gets_one_line_naming_the_file(tmp_path, capsys, text):
    path = _with_metadata(tmp_path, text)
    code, out, err = _info(path, capsys)
    assert code == 1 and out == ""
    assert "Traceback" not in err and "RecursionError" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert str(path) in err
    if b"[[[" in text or b'{"a": {' in text:
        assert "metadata.json is unreadable" in err


def test_metadata_nested_deep_but_parseable_is_unreadable_not_a_crash(tmp_path, capsys):
    deep: object = 1
    for _ in range(500):
        deep = {"a": deep}
    code, out, err = _info(_with_record(tmp_path, preset_changes=deep, data__description=deep), capsys)
    assert code == 0 and "Traceback" not in out + err
    assert "field preset_changes of metadata.json is an object, not an object of settings" in out
    assert "field data.description of metadata.json" in out


def test_control_characters_in_fields_reach_the_terminal_escaped(tmp_path, capsys):
    attack = "\x1b[2J\x1b[31mPWNED"
    forged = "keras-mnist-gan train\n  seed: 12345\r\n  steps: 1"
    path = _with_record(
        tmp_path,
        preset=attack,
        command=forged,
        draws="digits\u202ereversed\x07",
        data__source="mnist.npz\n  data: forged.npz",
        quality_at_end={"val_fid": 9.6, "\x1b[31mkey": 1},
        evaluation={"n": 100, "data": "test\x00digits", "command": "evaluate\x9b2J", "fid": 2.0},
        tuning={"lr\x1b[0m": 0.1, "note": "a\nb"},
    )
    path = path.rename(tmp_path / "odd\x1bname.keras")
    code, out, err = _info(path, capsys)
    assert code == 0 and "Traceback" not in out + err
    assert "\x1b" not in out and "\x00" not in out and "\x07" not in out and "\x9b" not in out
    assert "\r" not in out and "\u202e" not in out
    assert "\\x1b[2J\\x1b[31mPWNED" in out and "odd\\x1bname.keras" in out.splitlines()[0]
    assert "  command: keras-mnist-gan train\\n  seed: 12345\\r\\n  steps: 1" in out
    lines = out.splitlines()
    assert "  seed: 0" in lines and "  seed: 12345" not in lines and "  steps: 1" not in lines
    assert not any(line.strip().startswith("data: forged.npz") for line in lines)
    assert "digits\\u202ereversed\\x07" in out and "lr\\x1b[0m 0.1" in out and "note a\\nb" in out


def test_a_field_too_long_for_a_line_is_cut(tmp_path, capsys):
    code, out, _ = _info(_with_record(tmp_path, command="x" * 100_000), capsys)
    assert code == 0
    line = next(line for line in out.splitlines() if line.startswith("  command: "))
    assert len(line) < 2100 and line.endswith("... (cut)")


def test_info_shows_the_data_by_name_digits_and_fingerprint(tmp_path, capsys):
    sha = "0123456789abcdef" * 4
    data = {"source": "mnist.npz", "train_images": 60000, "bytes": 11490434, "sha256": sha, "labels": True}
    code, out, _ = _info(_with_record(tmp_path, data=data), capsys)
    assert code == 0
    assert (
        "  data: mnist.npz (60,000 training digits, with labels; 11,490,434 bytes; sha256 0123456789abcdef...)" in out
    )


@pytest.mark.parametrize(
    "argv, recorded",
    [
        (
            ["train", "--data", "/home/u/x/mnist.npz", "--out", "../runs/a"],
            ["train", "--data", "mnist.npz", "--out", "a"],
        ),
        (
            ["train", "--data=/home/u/x/mnist.npz", "--out=../runs/a/", "--steps", "10"],
            ["train", "--data=mnist.npz", "--out=a", "--steps", "10"],
        ),
        (
            ["train", "--da", "/tmp/digits/", "--ou", "/abs/run", "--quiet"],
            ["train", "--da", "digits", "--ou", "run", "--quiet"],
        ),
        (["--verbose", "train", "--out", "run", "--seed", "3"], ["--verbose", "train", "--out", "run", "--seed", "3"]),
        (["train", "--data", "mnist.npz"], ["train", "--data", "mnist.npz"]),
        (["train", "--out", "."], ["train", "--out", "."]),
    ],
)
def test_the_recorded_command_names_paths_without_their_folders(argv, recorded):
    assert command_without_paths(argv) == recorded


def test_the_recorded_command_never_climbs_above_the_working_folder(tmp_path, monkeypatch):
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    reduced = command_without_paths(["train", "--out", "..", "--data=../..", "--out", "/"])
    assert reduced == ["train", "--out", tmp_path.name, f"--data={tmp_path.parent.name}", "--out", "(root folder)"]
    for value in reduced[1:]:
        value = value.split("=")[-1]
        assert not os.path.isabs(value) and ".." not in value and "/" not in value


def test_other_parsers_path_options_are_reduced_when_named():
    options = ("--model", "--evaluator", "--data", "--json")
    argv = ["evaluate", "--model", "/m/generator.keras", "--evaluator=../e.keras", "-n", "100"]
    assert command_without_paths(argv, options) == [
        "evaluate",
        "--model",
        "generator.keras",
        "--evaluator=e.keras",
        "-n",
        "100",
    ]


def _gan(num_classes=10):
    return SimpleNamespace(num_classes=num_classes, noise_dim=100, ema_decay=0.999, ema_generator=object())


def test_the_record_names_the_data_by_its_record_not_its_path(tiny_npz):
    data = load_npz(tiny_npz)
    record = generator_metadata(_gan(), PRESETS["quality"], steps=4, seed=0, data=data, train_images=200)
    assert record["data"] == {**data.record, "labels": True}
    assert record["data"]["source"] == "tiny.npz" and record["data"]["train_images"] == 200
    assert record["data"]["bytes"] == os.path.getsize(tiny_npz) and len(record["data"]["sha256"]) == 64
    assert str(tiny_npz.parent) not in json.dumps(record)


def test_a_source_given_as_a_string_is_recorded_by_its_name():
    record = generator_metadata(_gan(None), PRESETS["quality"], steps=4, seed=None, data="/home/u/data/mnist.npz")
    assert record["data"] == {"source": "mnist.npz", "train_images": None, "labels": False}
    assert generator_metadata(_gan(), PRESETS["quality"], 4, 0, data=None)["data"]["source"] is None


def test_the_record_carries_nothing_about_the_machine(tiny_npz):
    record = generator_metadata(
        _gan(), PRESETS["quality"], 4, 0, load_npz(tiny_npz), wall_s=12.3, command="keras-mnist-gan train"
    )
    text = json.dumps(record).lower()
    assert not [key for key in record if "note" in key or key in ("host", "hostname", "machine", "load", "cpu")]
    for word in ("load", "cpu", "host", os.path.expanduser("~").lower()):
        assert word not in text, word
    assert len(os.uname().nodename) < 4 or os.uname().nodename.lower() not in text


@pytest.mark.core
def test_a_trained_runs_file_records_names_not_paths(tmp_path, tiny_npz, capsys):
    out = tmp_path / "runs" / "first"
    args = ["--steps", "2", "--batch-size", "20", "--warmup-steps", "1", "--quality-n", "0", "--quiet"]
    assert main(["train", "--data", str(tiny_npz), "--out", str(out), *args]) == 0
    capsys.readouterr()
    record = read_metadata(out / "generator.keras")[METADATA_KEY]
    assert record["command"] == "keras-mnist-gan train --data tiny.npz --out first " + " ".join(args)
    assert record["data"]["source"] == "tiny.npz" and len(record["data"]["sha256"]) == 64
    assert str(tmp_path) not in json.dumps(record)
    code, text, _ = _info(out / "generator.keras", capsys)
    assert code == 0
    assert f"  data: tiny.npz (200 training digits, with labels; {os.path.getsize(tiny_npz):,} bytes; sha256 " in text
    assert "  command: keras-mnist-gan train --data tiny.npz --out first" in text
