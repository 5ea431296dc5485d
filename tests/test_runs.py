"""`nncli runs` and `nncli compare`: what the run directories say, side by side."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nncli.cli import app
from nncli.runs import direction, plain_table, spec_differences

runner = CliRunner()

SPEC = """\
name: {name}
seed: 1
data:
  dataset: {{type: moons, n_samples: 160, noise: 0.2}}
  validation_split: 0.25
model:
  input_shape: [2]
  layers:
    - {{type: dense, units: {units}, activation: relu}}
    - {{type: dense, units: 1, activation: sigmoid}}
optimizer: {{type: adam, learning_rate: 0.02}}
loss: binary_crossentropy
metrics: [accuracy]
epochs: {epochs}
batch_size: 16
"""


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def train(tmp: Path, runs: Path, name: str, units: int, epochs: int) -> Path:
    spec = tmp / f"{name}.yaml"
    spec.write_text(SPEC.format(name=name, units=units, epochs=epochs))
    result = invoke("train", spec, "--runs-dir", runs, "-q")
    assert result.exit_code == 0, result.stderr
    return Path(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> tuple[Path, Path, Path]:
    tmp = tmp_path_factory.mktemp("runs")
    runs = tmp / "runs"
    small = train(tmp, runs, "small", 2, 2)
    large = train(tmp, runs, "large", 32, 8)
    return runs, small, large


def metrics_csv(run: Path) -> list[dict[str, float]]:
    rows = csv.DictReader(io.StringIO((run / "metrics.csv").read_text()))
    return [{k: float(v) for k, v in r.items()} for r in rows]


def test_runs_lists_each_run_with_final_and_best(two_runs):
    runs, small, large = two_runs
    result = invoke("runs", "--runs-dir", runs, "--json")
    assert result.exit_code == 0, result.stderr
    listed = json.loads(result.stdout)["runs"]
    assert [r["run"] for r in listed] == [small.name, large.name]  # oldest first
    for entry, run in zip(listed, (small, large)):
        rows = metrics_csv(run)
        summary = json.loads((run / "summary.json").read_text())
        assert entry["status"] == "completed"
        assert entry["epochs_run"] == entry["epochs"] == len(rows)
        assert entry["metric"] == "val_accuracy" and entry["direction"] == "up"
        assert entry["final"]["val_accuracy"] == rows[-1]["val_accuracy"]
        best = max(rows, key=lambda r: (r["val_accuracy"], -r["epoch"]))
        assert entry["best"]["val_accuracy"] == {
            "value": best["val_accuracy"],
            "epoch": int(best["epoch"]),
        }
        low = min(r["val_loss"] for r in rows)
        assert entry["best"]["val_loss"]["value"] == low  # lower is better
        assert entry["wall_seconds"] == summary["wall_seconds"]


def test_runs_prints_a_table_and_marks_damaged_runs(two_runs, tmp_path):
    runs, small, large = two_runs
    copy = tmp_path / "runs"
    copy.mkdir()
    for run in (small, large):
        (copy / run.name).mkdir()
        for f in run.iterdir():
            if f.is_file():
                (copy / run.name / f.name).write_bytes(f.read_bytes())
    (copy / large.name / "summary.json").write_text("{")
    (copy / "notes").mkdir()  # not a run: not listed
    result = invoke("runs", "--runs-dir", copy)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "run",
        "started",
        "status",
        "epochs",
        "val_accuracy",
        "best",
        "val_loss",  # what the column shows, not the training loss
        "wall",
    ]
    assert len(lines) == 3 and not any("notes" in ln for ln in lines)
    by_name = {ln.split()[0]: ln.split() for ln in lines[1:]}
    row = by_name[small.name]
    assert row[3] == "completed" and row[4] == "2/2"
    assert row[8] == f"{metrics_csv(small)[-1]['val_loss']:.4f}"
    assert by_name[large.name][1:3] == ["-", "unreadable"]
    assert not any(c in result.stdout for c in "\x1b\r")


def test_runs_of_a_missing_folder_is_an_error(tmp_path):
    result = invoke("runs", "--runs-dir", tmp_path / "nope")
    assert result.exit_code == 1 and "does not exist" in result.stderr
    (tmp_path / "empty").mkdir()
    empty = invoke("runs", "--runs-dir", tmp_path / "empty", "--json")
    assert empty.exit_code == 0 and json.loads(empty.stdout)["runs"] == []


def test_compare_shows_spec_differences_metrics_and_the_best(two_runs):
    _, small, large = two_runs
    result = invoke("compare", small, large, "--json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    diffs = out["spec_differences"]
    assert diffs["model.layers[0].units"] == [2, 32]
    assert diffs["epochs"] == [2, 8] and diffs["name"] == ["small", "large"]
    assert "seed" not in diffs and "loss.type" not in diffs
    finals = [metrics_csv(r)[-1]["val_accuracy"] for r in (small, large)]
    assert out["metrics"]["val_accuracy"]["final"] == finals
    assert out["metric"] == "val_accuracy" and out["direction"] == "up"
    winner = [small, large][finals.index(max(finals))].name
    assert winner in out["best"]["runs"] and out["best"]["value"] == max(finals)
    text = invoke("compare", small, large).stdout
    assert "model.layers[0].units" in text
    assert f"best on val_accuracy (higher is better): {winner}" in text


def test_compare_on_a_lower_is_better_metric_and_aliases(two_runs):
    _, small, large = two_runs
    losses = [metrics_csv(r)[-1]["val_loss"] for r in (small, large)]
    out = json.loads(
        invoke("compare", small, large, "--metric", "val_loss", "--json").stdout
    )
    assert out["direction"] == "down" and out["best"]["value"] == min(losses)
    alias = json.loads(
        invoke("compare", small, large, "--metric", "acc", "--json").stdout
    )
    assert alias["metric"] == "accuracy"
    bad = invoke("compare", small, large, "--metric", "f1")
    assert bad.exit_code == 2 and "unknown metric 'f1'" in bad.stderr
    one = invoke("compare", small)
    assert one.exit_code == 2 and "two or more run directories" in one.stderr


def test_spec_differences_show_a_layer_only_one_model_has():
    a = {"model": {"layers": [{"type": "dense", "units": 3}]}, "seed": 0}
    b = {"model": {"layers": [{"type": "dense", "units": 4}, {"type": "dropout"}]}}
    diffs = spec_differences([a, b])
    assert diffs == {
        "model.layers[0].units": [3, 4],
        "model.layers[1]": [None, {"type": "dropout"}],
        "seed": [0, None],
    }


def test_runs_names_the_loss_it_shows_when_some_runs_lack_validation(two_runs):
    from nncli.runs import describe, runs_table

    _, small, large = two_runs
    runs = [describe(small), describe(large)]
    del runs[1]["final"]["val_loss"]  # as a run without validation data
    header, rows = runs_table(runs)
    assert header[6] == "val_loss"
    assert rows[0][6] == f"{runs[0]['final']['val_loss']:.4f}"
    assert rows[1][6] == f"{runs[1]['final']['loss']:.4f} (loss)"
    for r in runs:
        r["final"].pop("val_loss", None)
    assert runs_table(runs)[0][6] == "loss"


def test_compare_matches_layers_by_type_so_a_removed_layer_is_one_row():
    from nncli.runs import compare_tables

    def dense(units, act="relu"):
        return {"type": "dense", "units": units, "activation": {"type": act}}

    small = {"model": {"layers": [dense(3), dense(4), dense(2), dense(1, "sigmoid")]}}
    large = {"model": {"layers": [dense(32), dense(32), dense(1, "sigmoid")]}}
    diffs = spec_differences([small, large])
    assert diffs == {
        "model.layers[0].units": [3, 32],
        "model.layers[1].units": [4, 32],
        "model.layers[2]": [dense(2), None],  # the output layers are not compared
    }
    large["model"]["layers"][2]["units"] = 2  # now it differs, at another index
    diffs = spec_differences([small, large])
    assert diffs["model.layers[3→2].units"] == [1, 2]
    result = {"runs": ["a", "b"], "spec_differences": diffs, "metrics": {}}
    rows = {r[0]: r[1:] for r in compare_tables(result)[0][2]}
    assert rows["model.layers[2]"] == ["dense, units: 2, activation: relu", "removed"]
    back = spec_differences([large, small])  # the other way round: added
    result = {"runs": ["b", "a"], "spec_differences": back, "metrics": {}}
    rows = {r[0]: r[1:] for r in compare_tables(result)[0][2]}
    assert rows["model.layers[2]"] == ["-", "added: dense, units: 2, activation: relu"]
    assert rows["model.layers[2→3].units"] == ["2", "1"]


def test_compare_writes_values_as_yaml_does():
    """true/false as in the spec (and in resume's difference list), not
    Python's True/False; in a whole layer's summary too."""
    from nncli.runs import compare_tables

    a = {"optimizer": {"centered": False}, "model": {"layers": [{"type": "dense"}]}}
    b = {
        "optimizer": {"centered": True},
        "model": {"layers": [{"type": "dense"}, {"type": "dense", "use_bias": False}]},
    }
    result = {"runs": ["a", "b"], "spec_differences": spec_differences([a, b])}
    rows = {r[0]: r[1:] for r in compare_tables({**result, "metrics": {}})[0][2]}
    assert rows["optimizer.centered"] == ["false", "true"]
    assert rows["model.layers[1]"] == ["-", "added: dense, use_bias: false"]


def test_compare_text_of_the_two_moons_specs_is_one_line_per_change(tmp_path):
    specs = Path(__file__).resolve().parents[1] / "specs"
    runs = tmp_path / "runs"
    small, large = (
        Path(
            invoke("train", specs / f, "--runs-dir", runs, "-q", "--set", "epochs=1")
            .stdout.strip()
            .splitlines()[-1]
        )
        for f in ("moons.yaml", "moons_large.yaml")
    )
    lines = invoke("compare", small, large).stdout.splitlines()
    layer_lines = [ln.split() for ln in lines if ln.startswith("model.layers")]
    assert layer_lines == [
        ["model.layers[0].units", "3", "32"],
        ["model.layers[1].units", "4", "32"],
        ["model.layers[2]", "dense,", "units:", "2,", "activation:", "relu", "removed"],
    ]
    assert max(map(len, lines)) < 100  # no whole layer's settings in a cell


def test_directions_come_from_the_metric_kind():
    kinds = {"mae": "mean_absolute_error", "r2_score": "r2_score"}
    assert direction("val_mae", kinds) == "down"
    assert direction("r2_score", kinds) == "up"
    assert direction("val_loss", {}) == "down"
    assert direction("accuracy", {}) == "up"


def test_plain_table_fits_a_width_by_wrapping_only_the_fold_columns():
    header = ["run", "started", "metric", "final"]
    rows = [["moons-large-20260101-120000", "2026-01-01 12:00", "val_accuracy", "0.97"]]
    wide = plain_table(header, rows)
    assert len(wide) == 2 and max(map(len, wide)) == 27 + 16 + 12 + 5 + 3 * 2
    narrow = plain_table(header, rows, width=60, fold=(1, 2))
    assert max(map(len, narrow)) <= 60 and len(narrow) > 2
    assert narrow[1].split()[0] == rows[0][0]  # the name stays whole
    assert narrow[1].rstrip().endswith("0.97")  # and so do the numbers
    start, end = narrow[0].index("started"), narrow[0].index("metric")
    pieces = [ln[start:end].strip() for ln in narrow[1:]]
    assert "".join(pieces) == "2026-01-0112:00"  # wrapped, nothing lost


@pytest.mark.parametrize("command", ["runs", "compare"])
def test_help_has_an_example(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0 and "Example:" in result.stdout
