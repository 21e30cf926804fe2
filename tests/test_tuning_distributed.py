"""keras-tuner's own distributed mode: one chief (the oracle) and two
workers, as separate `keras-mnist-gan tune` processes on 127.0.0.1."""

import csv
import os
import socket
import subprocess
import sys
import time

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_chief_and_two_workers_share_the_trials(tmp_path, tiny_npz):
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "keras_mnist_gan",
        "tune",
        "--data",
        str(tiny_npz),
        "--tuner",
        "random",
        "--max-trials",
        "4",
        "--steps-per-trial",
        "4",
        "--warmup-steps",
        "2",
        "--quality-n",
        "150",
        "--directory",
        str(tmp_path),
        "--project-name",
        "dist",
    ]
    base = dict(
        os.environ,
        TF_CPP_MIN_LOG_LEVEL="3",
        KERASTUNER_ORACLE_IP="127.0.0.1",
        KERASTUNER_ORACLE_PORT=str(port),
        PYTHONUNBUFFERED="1",
    )
    procs = {}
    logs = {}
    for tid in ("chief", "tuner0", "tuner1"):
        logs[tid] = open(tmp_path / f"{tid}.log", "w+")
        procs[tid] = subprocess.Popen(
            cmd, env=dict(base, KERASTUNER_TUNER_ID=tid), stdout=logs[tid], stderr=subprocess.STDOUT, text=True
        )
        if tid == "chief":
            time.sleep(2)  # let the oracle start listening first
    try:
        for tid, p in procs.items():
            p.wait(timeout=400)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
    out = {}
    for tid, f in logs.items():
        f.seek(0)
        out[tid] = f.read()
        f.close()
    for tid, p in procs.items():
        assert p.returncode == 0, f"{tid} exited {p.returncode}:\n{out[tid][-3000:]}"

    ran = {tid: out[tid].count(" -> val_fid ") for tid in ("tuner0", "tuner1")}
    assert sum(ran.values()) == 4 and all(n >= 1 for n in ran.values()), (ran, out)
    assert "as chief" in out["chief"] and out["chief"].count(" -> val_fid ") == 0  # the chief only serves
    with open(tmp_path / "dist" / "trials.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 and all(r["status"] == "COMPLETED" for r in rows)
    assert len({(r["lr_d"], r["ratio"]) for r in rows}) == 4
    assert (tmp_path / "dist" / "best_gan.keras").is_file()
