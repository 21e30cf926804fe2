"""Every table between ``<!-- table: NAME -->`` markers in README.md and docs/
is what benchmarks/render_tables.py makes of benchmarks/results/NAME.json."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def benchmark(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def renderer():
    return benchmark("render_tables")


def test_every_rendered_table_matches_its_results_file():
    tables = renderer()
    blocks = 0
    for page in tables.PAGES:
        path = ROOT / page
        if path.suffix != ".md" or not path.is_file():
            continue
        text = path.read_text()
        blocks += len(tables.BLOCK.findall(text))
        assert tables.rendered(text) == text, f"{page}: run python benchmarks/render_tables.py"
    assert blocks >= 1  # the README's headline table at least


def test_seeds_table_has_a_row_per_seed_and_the_median_and_worst(tmp_path, monkeypatch):
    tables = renderer()
    rows = [
        {
            "seed": s,
            "wall_s": 400.0 + s,
            "peak_rss_gb": 2.0,
            "fid": f,
            "mnist_score": 9.6,
            "accuracy": 0.99,
            "worst_digit_accuracy": 0.97,
            "worst_digit": 8,
            "within_class_diversity": 0.9,
            "rarest_class_share": 0.095,
            "commonest_class_share": 0.105,
        }
        for s, f in enumerate([3.0, 5.0, 4.0])
    ]
    result = {
        "command": "keras-mnist-gan train --out run --seed S",
        "evaluate": "evaluate",
        "data": "shipped",
        "machine": "x86_64, 2 cores",
        "seeds": rows,
        "summary": benchmark("seeds").summary(rows),
    }
    (tmp_path / "seeds_x.json").write_text(json.dumps(result))
    monkeypatch.setattr(tables, "RESULTS", str(tmp_path))
    lines = tables.rendered("<!-- table: seeds_x -->\nold\n<!-- end table -->\n").splitlines()
    body = [line for line in lines if line.startswith("| ")][2:]
    assert [line.split(" | ")[0] for line in body] == ["| 0", "| 1", "| 2", "| **median**", "| **worst**"]
    assert " 4.00 " in body[3] and " 5.00 " in body[4]  # FID: median and worst (the highest)
    (tmp_path / "nosuchkind_x.json").write_text("{}")
    with pytest.raises(SystemExit, match="no renderer"):
        tables.render("nosuchkind_x")


def test_eval_table_sets_each_figure_beside_the_real_floor_and_one_cell_per_class(tmp_path, monkeypatch):
    tables = renderer()
    figures = {"n": 100, "fid": 3.5, "mnist_score": 9.1, "rarest_class_share": 0.08}
    result = {
        "model": "g.keras",
        "n": 100,
        "data": "mnist.npz",
        "generator": {**figures, "accuracy_per_class": [0.9, 0.95, 1.0]},
        "real_floor": {**figures, "fid": 0.5},
    }
    (tmp_path / "eval_x.json").write_text(json.dumps(result))
    monkeypatch.setattr(tables, "RESULTS", str(tmp_path))
    text = tables.render("eval_x")
    assert "| FID (lower is better) | 3.50 | 0.50 |" in text
    assert "| 90.0% | 95.0% | 100.0% |" in text
    assert "--model g.keras -n 100 --data mnist.npz" in text
