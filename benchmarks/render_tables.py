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


RENDERERS = {"seeds": seeds_table}
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
