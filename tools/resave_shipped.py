"""Writes the facts of saved_models/README.md into the shipped generators' metadata.

Re-save the shipped generators in Keras's own layers, with their model
card's facts in their metadata (``keras-mnist-gan info`` prints them).

    python tools/resave_shipped.py

Loads each file through the package, rebuilds it with built-in layers
(`portable_generator`, the same weights and BatchNorm statistics), records
the training and evaluation facts of saved_models/README.md and the
benchmarks/results/eval_*.json files, writes it back in place, and checks that the new file
draws the old file's digits within 1e-4. Running it again changes only the
save date.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import keras  # noqa: F401  (first: the package registers its layers, which the old files hold, after it)
import numpy as np

import keras_mnist_gan  # noqa: F401
from keras_mnist_gan.presets import PRESETS, Preset, closest_preset
from keras_mnist_gan.sampling import generate
from keras_mnist_gan.saving import load_generator, read_metadata, save_generator, METADATA_KEY

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "saved_models"
RESULTS = ROOT / "benchmarks" / "results"
# The training data as train records it (`MnistData.record`): by name, file
# size and the digits' fingerprint; a shared model file says nothing of the
# machine or folders it was made in.
DATA = {
    "source": "mnist.npz",
    "train_images": 60000,
    "bytes": 11490519,
    "sha256": "ceda791d3e53beaf95f8e213c414aa4d975006504eff93f785d685ecea3e892c",
}
ABOUT_DATA = "full MNIST in Keras's layout: 60,000 training digits with labels, the 10,000 official test digits"


def evaluation(eval_json: str, command: str) -> dict:
    figures = json.loads((RESULTS / eval_json).read_text())
    return {
        "command": command,
        "n": figures["n"],
        "data": figures["data"],
        **figures["generator"],
        "real_floor": figures["real_floor"],
        "figures_file": f"benchmarks/results/{eval_json}",
    }


def final_quality(history_csv: str) -> dict:
    with open(MODELS / history_csv, newline="") as f:
        last = list(csv.DictReader(f))[-1]
    step = int(float(last["step"]))
    return {"n": 1000, "step": step, **{k: float(v) for k, v in last.items() if k.startswith("val_") and v}}


def record(preset: Preset, **facts) -> dict:
    name, changes = closest_preset(preset)
    return {"preset": name, "preset_changes": changes, "preset_settings": preset.as_dict(), **facts}


CONDITIONAL = record(
    PRESETS["quality"].with_(mode_seeking=0.0),
    draws="28x28 MNIST-like digits, pixels in [0, 1]; class-conditional (10 classes: inputs [noise, label])",
    noise_dim=100,
    num_classes=10,
    weights="exponential moving average of the generator's weights (decay 0.999); BatchNorm statistics "
    "calibrated before saving",
    steps=6000,
    seed=0,
    data={**DATA, "description": ABOUT_DATA, "train_images": 60000, "labels": True},
    command="keras-mnist-gan train --mode-seeking 0 --data mnist.npz --out shipped --steps 6000 --quality-every 500 "
    "--quiet",
    quality_at_end=final_quality("generator_history.csv"),
    evaluation=evaluation(
        "eval_generator.json",
        "keras-mnist-gan evaluate --model generator.keras -n 10000 --data mnist.npz --json eval_generator.json",
    ),
)

# The quality preset with R1 at every step, unconditional.
UNCONDITIONAL = record(
    PRESETS["quality"].with_(r1_interval=1, conditional=False, mode_seeking=0.0),
    draws="28x28 MNIST-like digits, pixels in [0, 1]; unconditional (input: noise)",
    noise_dim=100,
    num_classes=None,
    weights="exponential moving average of the generator's weights (decay 0.999); BatchNorm statistics "
    "calibrated before saving",
    steps=10000,
    seed=0,
    data={**DATA, "description": ABOUT_DATA, "train_images": 60000, "labels": False},
    command="keras-mnist-gan train --unconditional --r1-interval 1 --mode-seeking 0 --data mnist.npz --steps 10000 "
    "--steps-per-epoch 1000 --seed 0 --out unconditional --quiet",
    evaluation=evaluation(
        "eval_unconditional_generator.json",
        "keras-mnist-gan evaluate --model unconditional_generator.keras -n 10000 --data mnist.npz "
        "--json eval_unconditional_generator.json",
    ),
)


def main() -> int:
    worst = 0.0
    for name, facts in (("generator.keras", CONDITIONAL), ("unconditional_generator.keras", UNCONDITIONAL)):
        path = MODELS / name
        old = load_generator(path)
        before = generate(old, 500, seed=0)
        old_record = read_metadata(path).get(METADATA_KEY) or {}
        facts = {**facts, "resaved": "in Keras's own layers by tools/resave_shipped.py; the weights as trained"}
        save_generator(old, path, metadata=facts)
        diff = float(np.abs(generate(load_generator(path), 500, seed=0) - before).max())
        worst = max(worst, diff)
        print(
            f"{path.relative_to(ROOT)}: re-saved ({'updated' if old_record else 'new'} metadata); "
            f"max digit difference {diff:.1e}"
        )
    return 0 if worst <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
