"""Renders the tables of README.md and docs/ from the benchmarks' JSON files.

    python benchmarks/render_tables.py           # rewrite the marked blocks
    python benchmarks/render_tables.py --check   # exit 1 if a block is stale

A table lives between ``<!-- table: NAME -->`` and ``<!-- end table -->``,
where NAME is a JSON file under benchmarks/results/ without its suffix
(``seeds_shipped``), or a collection of them (``levers``: every
``seeds_screen_*.json``); the block is made from those files alone, so no
figure in it is typed by hand. tests/test_render_tables.py runs the check.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benchmarks", "results")
PAGES = [
    "README.md",
    *(os.path.join("docs", p) for p in sorted(os.listdir(os.path.join(ROOT, "docs")))),
    "saved_models/README.md",
]
BLOCK = re.compile(r"(<!-- table: (?P<name>[\w.-]+) -->\n)(?P<body>.*?)(<!-- end table -->)", re.S)


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def seeds_table(result: dict) -> str:
    """One row per seed, then the median and the worst of each column."""
    columns = [
        ("wall time", "wall_s", lambda v: f"{v:.0f} s"),
        ("peak memory", "peak_rss_gb", lambda v: f"{v:.1f} GB"),
        ("FID", "fid", lambda v: f"{v:.2f}"),
        ("MNIST score", "mnist_score", lambda v: f"{v:.2f}"),
        ("recognised as asked", "accuracy", _pct),
        ("worst digit", "worst_digit_accuracy", _pct),
        ("within-class diversity", "within_class_diversity", lambda v: f"{v:.2f}"),
        ("class shares", None, None),
    ]
    head = "| seed | " + " | ".join(c[0] for c in columns) + " |\n" + "| --- " * (len(columns) + 1) + "|\n"
    rows = []
    for r in result["seeds"]:
        cells = []
        for _, key, fmt in columns:
            if key is None:
                cells.append(f"{_pct(r['rarest_class_share'])}-{_pct(r['commonest_class_share'])}")
            elif key == "worst_digit_accuracy" and key in r:
                cells.append(f"{fmt(r[key])} (the {r['worst_digit']})")
            else:
                cells.append(fmt(r[key]) if key in r else "-")
        rows.append(f"| {r['seed']} | " + " | ".join(cells) + " |")
    summary = result["summary"]
    for which in ("median", "worst"):
        cells = []
        for _, key, fmt in columns:
            if key is None:
                lo, hi = summary["rarest_class_share"][which], summary["commonest_class_share"][which]
                cells.append(f"{_pct(lo)}-{_pct(hi)}" if which == "worst" else "")
            else:
                cells.append(fmt(summary[key][which]) if key in summary else "-")
        rows.append(f"| **{which}** | " + " | ".join(cells) + " |")
    note = (
        f"\n*`{result['command']}` for each seed, one run at a time in a fresh HOME ({result['data']}), then "
        f"`{result['evaluate']}`; {result['machine']}. Rerun: `python benchmarks/seeds.py"
        + (f" --data {result['data']}" if result["data"].endswith(".npz") else "")
        + (f" --seeds {' '.join(str(r['seed']) for r in result['seeds'])}" if len(result["seeds"]) != 5 else "")
        + "`.*\n"
    )
    return head + "\n".join(rows) + "\n" + note


def levers_table(results: list[dict]) -> str:
    """One row per lever tried (``seeds_screen_*.json``: one seed each),
    best FID first. No wall times: screening runs are not speed figures."""
    head = (
        "| train arguments | seed | FID | MNIST score | recognised as asked (worst digit) "
        "| within-class diversity |\n| --- | --- | --- | --- | --- | --- |\n"
    )
    rows = []
    for result in sorted(results, key=lambda r: r["seeds"][0]["fid"]):
        r = result["seeds"][0]
        arguments = result["command"].split("--seed S", 1)[1].strip() or "(the default)"
        rows.append(
            f"| `{arguments}` | {r['seed']} | {r['fid']:.2f} | {r['mnist_score']:.2f} "
            f"| {_pct(r['accuracy'])} ({_pct(r['worst_digit_accuracy'])}, the {r['worst_digit']}) "
            f"| {r['within_class_diversity']:.2f} |"
        )
    return head + "\n".join(rows) + "\n"


def eval_table(result: dict) -> str:
    """A shipped generator's figures from ``evaluate --json`` beside the
    real-data floor, then the share recognised as asked, per class."""
    g, floor = result["generator"], result["real_floor"]
    rows = [
        ("FID (lower is better)", "fid", lambda v: f"{v:.2f}"),
        ("MNIST score (max 10)", "mnist_score", lambda v: f"{v:.2f}"),
        ("class entropy, bits (max 3.32)", "class_entropy_bits", lambda v: f"{v:.2f}"),
        ("rarest class's share", "rarest_class_share", _pct),
        ("mean confidence", "mean_confidence", lambda v: f"{v:.3f}"),
        ("memorised share", "memorised_share", _pct),
        ("recognised as the digit asked for", "accuracy", _pct),
    ]
    out = f"| figure | {result['model']} | real-data floor |\n| --- | --- | --- |\n"
    for label, key, fmt in rows:
        if key in g:
            out += f"| {label} | {fmt(g[key])} | {fmt(floor[key]) if key in floor else ''} |\n"
    per_class = g.get("accuracy_per_class")
    if per_class:
        out += "\nRecognised as asked, per digit:\n\n"
        out += "| " + " | ".join(str(c) for c in range(len(per_class))) + " |\n"
        out += "| --- " * len(per_class) + "|\n"
        out += "| " + " | ".join(_pct(a) for a in per_class) + " |\n"
    out += (
        f"\n*`keras-mnist-gan evaluate --model {result['model']} -n {result['n']} --data {result['data']}`: "
        f"{g['n']:,} generated digits against the 10,000 test digits; the floor is {floor['n']:,} real "
        "training digits scored the same way.*\n"
    )
    return out


def _best_median(runs: list[dict], key: str = "train_digits_per_s") -> tuple[float, float]:
    values = sorted(r[key] for r in runs)
    return values[-1], values[(len(values) - 1) // 2]


def speed_table(result: dict) -> str:
    """The original design as a TensorFlow 1 graph against ``GAN.fit``, the
    seed configuration, each run in its own process."""
    out = (
        "| implementation | training digits/s, best | median | cores used | peak memory |\n"
        "| --- | --- | --- | --- | --- |\n"
    )
    for label, key in (("TF1 graph (`benchmarks/tf1_baseline.py`)", "tf1"), ("`GAN.fit`, seed configuration", "keras")):
        runs = result["runs"][key]
        best, median = _best_median(runs)
        cores = sorted(r["cores_used"] for r in runs)
        memory = max(r["peak_rss_mb"] for r in runs) / 1024
        out += f"| {label} | {best:.0f} | {median:.0f} | {cores[0]:.1f} to {cores[-1]:.1f} | {memory:.1f} GB |\n"
    sample, _ = _best_median(result["runs"]["keras"], "sample_digits_per_s")
    out += (
        f"\n*{result['repeats']} runs of each, {result['steps_timed']} timed steps at batch {result['batch']} "
        f"after 30 untimed; `generate` (batch 500) draws {sample:,.0f} digits/s at best. Rerun: "
        f"`python benchmarks/speed.py --data mnist.npz --steps {result['steps_timed']} --repeats {result['repeats']} "
        "--json benchmarks/results/speed.json`.*\n"
    )
    return out


def backend_table(result: dict) -> str:
    """The seed configuration's training speed on each Keras backend."""
    out = "| backend | training digits/s, best | median |\n| --- | --- | --- |\n"
    for backend, figures in result["backends"].items():
        best, median = _best_median(figures["runs"]["keras"])
        out += f"| {backend} | {best:.0f} | {median:.0f} |\n"
    out += (
        f"\n*{result['repeats']} runs per backend, alternating, {result['steps_timed']} timed steps at batch "
        f"{result['batch']}. Rerun: `python benchmarks/speed.py --backends {','.join(result['backends'])} "
        f"--data mnist.npz --steps {result['steps_timed']} --repeats {result['repeats']} "
        "--json benchmarks/results/backend_speed.json`.*\n"
    )
    return out


RENDERERS = {"seeds": seeds_table, "eval": eval_table, "speed": speed_table, "backend": backend_table}
# Tables made of several results files: the block's name, the files' pattern.
COLLECTIONS = {"levers": ("seeds_screen_*.json", levers_table)}


def render(name: str) -> str:
    if name in COLLECTIONS:
        pattern, renderer = COLLECTIONS[name]
        results = []
        for path in sorted(glob.glob(os.path.join(RESULTS, pattern))):
            with open(path) as f:
                results.append(json.load(f))
        return renderer(results)
    with open(os.path.join(RESULTS, name + ".json")) as f:
        result = json.load(f)
    kind = name.split("_", 1)[0]
    if kind not in RENDERERS:
        raise SystemExit(f"no renderer for the table {name!r} (known kinds: {', '.join(RENDERERS)})")
    return RENDERERS[kind](result)


def rendered(text: str) -> str:
    return BLOCK.sub(lambda m: m.group(1) + render(m.group("name")) + m.group(4), text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a block differs")
    args = parser.parse_args()
    stale = []
    for page in PAGES:
        path = os.path.join(ROOT, page)
        if not page.endswith(".md") or not os.path.isfile(path):
            continue
        with open(path) as f:
            text = f.read()
        new = rendered(text)
        if new != text:
            stale.append(page)
            if not args.check:
                with open(path, "w") as f:
                    f.write(new)
    verb = "stale" if args.check else "rewrote"
    print(f"{verb}: {', '.join(stale)}" if stale else "every table is up to date")
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
