"""Evaluate the GPU scout's samples with the project's real (Keras) evaluator.

    python \
        tuning/gpu_scout/evaluate_samples.py RESULTS_DIR [RESULTS_DIR ...]

RESULTS_DIR holds what the sweep wrote to $OUT: metrics.jsonl (the port's
own figures for every checkpoint, computed on the GPU with a PyTorch copy of
the evaluator) and samples_*.tar (uint8 digits, 4000 per set, for the sets
that fitted the transfer limit). Every transferred set is evaluated here
with keras_mnist_gan.evaluation against the first 4000 MNIST test digits,
as real_floor does at n=4000. Writes tuning/gpu_scout/results.csv and
tuning/gpu_scout/best_grid.png.
"""

from __future__ import annotations

import csv
import glob
import json
import os
import sys
import tarfile
import time
import zlib

import numpy as np

from keras_mnist_gan.data import load_mnist
from keras_mnist_gan.evaluation import Evaluator, class_spread, frechet_distance, mnist_score, real_floor
from keras_mnist_gan.images import save_grid

HERE = os.path.dirname(os.path.abspath(__file__))
N = 4000


def main(dirs: list[str]) -> None:
    rows = {}
    for d in dirs:
        with open(os.path.join(d, "metrics.jsonl")) as fh:
            for line in fh:
                if line.strip():
                    r = json.loads(line)
                    rows[(r["config"], r["step"], r["which"])] = r
    sets = {}
    for d in dirs:
        for tpath in sorted(glob.glob(os.path.join(d, "samples_*.tar"))):
            with tarfile.open(tpath) as tf:
                for m in tf.getmembers():
                    key, shape = m.name[: -len(".u8.zlib")].rsplit("__", 1)
                    shape = tuple(int(s) for s in shape.split("x"))
                    blob = tf.extractfile(m).read()
                    sets[key] = np.frombuffer(zlib.decompress(blob), np.uint8).reshape(shape)
    print(f"{len(rows)} metric rows, {len(sets)} sample sets", flush=True)

    data = load_mnist(os.path.join(os.path.dirname(HERE), "..", ".scout", "mnist.npz"))
    ev = Evaluator.load()
    t0 = time.time()
    floor = real_floor(ev, data.x_train, data.x_test, n=N, memorisation=False)
    print(
        f"real floor n={N}: fid {floor['fid']:.3f} score {floor['mnist_score']:.3f} "
        f"entropy {floor['class_entropy_bits']:.3f} rarest {floor['rarest_class_share']:.4f}",
        flush=True,
    )
    real_feats, _ = ev.features_and_probs(data.x_test[:N])
    for i, (key, imgs) in enumerate(sorted(sets.items())):
        name, st, which = key.split("__")
        feats, probs = ev.features_and_probs(imgs)
        spread = class_spread(probs)
        r = rows.setdefault((name, int(st[4:]), which), {"config": name, "step": int(st[4:]), "which": which})
        r["k_fid"] = frechet_distance(feats, real_feats)
        r["k_score"] = mnist_score(probs)
        r["k_entropy"] = spread["class_entropy_bits"]
        r["k_rarest"] = spread["rarest_class_share"]
        r["k_conf"] = float(probs.max(axis=1).mean())
        r["k_shares"] = " ".join(f"{s:.3f}" for s in spread["class_share"])
        if i % 10 == 0:
            print(
                f"  {i}/{len(sets)} {key}: fid {r['k_fid']:.2f} (port {r.get('fid', float('nan')):.2f}) "
                f"score {r['k_score']:.2f} [{time.time() - t0:.0f}s]",
                flush=True,
            )

    cols = [
        "config",
        "step",
        "kimg",
        "which",
        "batch",
        "steps",
        "group",
        "K",
        "split",
        "lr_d",
        "lr_g",
        "b1",
        "b2",
        "ls",
        "r1",
        "inoise",
        "seed",
        "k_fid",
        "k_score",
        "k_entropy",
        "k_rarest",
        "k_conf",
        "k_shares",
        "fid",
        "score",
        "entropy",
        "rarest",
        "conf",
        "d_loss_real",
        "d_loss_fake",
        "g_loss",
        "train_s",
    ]
    out_rows = []
    for r in rows.values():
        flat = dict(r)
        flat.update(r.get("hp", {}))
        out_rows.append({c: flat.get(c, "") for c in cols})
    out_rows.sort(key=lambda r: (r["k_fid"] if r["k_fid"] != "" else 1e9, r["fid"] if r["fid"] != "" else 1e9))
    path = os.path.join(HERE, "results.csv")
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for r in out_rows:
            w.writerow({k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in r.items()})
    with open(os.path.join(HERE, "real_floor_n4000.json"), "w") as fh:
        json.dump(floor, fh, indent=1)
    print(f"wrote {path}")
    best = next(r for r in out_rows if r["k_fid"] != "")
    key = f"{best['config']}__step{best['step']}__{best['which']}"
    save_grid(sets[key][:100], os.path.join(HERE, "best_grid.png"), ncols=10)
    print(f"best (Keras evaluator): {key} fid {best['k_fid']:.2f}; grid in best_grid.png")


if __name__ == "__main__":
    main(sys.argv[1:])
