"""bench/bench_layers.py imports without torch, and one case runs where torch is."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import bench_layers  # noqa: E402


def test_table_prints_a_row_per_layer_and_the_geometric_mean():
    row = {"layer": "gru", "input": [64, 50, 32], "output": [64, 64]}
    row |= {"nncli_ms": 2.0, "torch_ms": 4.0, "ratio": 0.5, "foreign_cores": 0.0}
    text = bench_layers.table([row, {**row, "layer": "lstm", "ratio": 2.0}])
    assert "64x50x32" in text and "geometric mean of the ratios: 1.00" in text


def test_one_case_runs_against_torch():
    pytest.importorskip("torch")
    (case,) = [c for c in bench_layers.cases() if c.name == "max_pooling2d"]
    row = bench_layers.bench_case(case, repeats=1, block_s=0.001)
    assert row["output"] == [32, 14, 14, 32] and row["ratio"] > 0
