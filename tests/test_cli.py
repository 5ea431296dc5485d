"""The CLI end to end: exit codes, one-line errors, run directories, JSON output."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nncli.cli import app

runner = CliRunner()

MOONS = """\
name: tiny
seed: 3
data:
  dataset: {type: moons, n_samples: 200, noise: 0.1}
  validation_split: 0.25
model:
  input_shape: [2]
  layers:
    - {type: dense, units: 16, activation: relu}
    - {type: dropout, rate: 0.1}
    - {type: dense, units: 1, activation: sigmoid}
optimizer: {type: adam, learning_rate: 0.01}
loss: binary_crossentropy
metrics: [accuracy]
epochs: 3
batch_size: 16
"""


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def spec(write_spec) -> Path:
    return write_spec(MOONS)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def train(spec: Path, runs: Path, *extra: str):
    result = invoke("train", spec, "--runs-dir", runs, *extra)
    assert result.exit_code == 0, result.stderr
    return Path(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "command", ["train", "eval", "validate", "summary", "predict", "schema"]
)
def test_every_command_has_help(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0
    assert "Example:" in result.stdout


def test_no_arguments_shows_usage():
    result = invoke()
    assert result.exit_code in (0, 2)
    assert "train" in result.stdout + result.stderr


def test_train_writes_a_complete_run(spec, tmp_path):
    run = train(spec, tmp_path / "runs")
    assert run.parent == tmp_path / "runs" and run.name.startswith("tiny-")
    names = {p.name for p in run.iterdir()}
    assert names == {
        "spec.yaml",
        "metrics.csv",
        "weights.safetensors",
        "preprocessing.json",
        "summary.json",
        "checkpoint.safetensors",
        "split.npz",
    }
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs_run"] == 3
    assert summary["metric_kinds"] == {"accuracy": "binary_accuracy"}
    rows = read_csv(run / "metrics.csv")
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert set(rows[0]) == {
        "epoch",
        "loss",
        "accuracy",
        "val_loss",
        "val_accuracy",
        "learning_rate",
        "seconds",
    }
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"])
    resolved = (run / "spec.yaml").read_text()
    assert "glorot_uniform" in resolved and "learning_rate: 0.01" in resolved


def test_plain_output_has_one_line_per_epoch_and_no_control_characters(spec, tmp_path):
    # CASE-027: logs redirected to a file get no bars, no \r, no ANSI
    result = invoke("train", spec, "--runs-dir", tmp_path)
    epoch_lines = [ln for ln in result.stderr.splitlines() if ln.startswith("epoch ")]
    assert len(epoch_lines) == 3
    assert not any(c in result.stderr for c in "\r\b\x1b")
    assert "━" not in result.stderr


def test_json_goes_to_stdout_and_logs_to_stderr(spec, tmp_path):
    result = invoke("train", spec, "--runs-dir", tmp_path, "--json")
    assert result.exit_code == 0
    out = json.loads(result.stdout)
    assert 0 <= out["metrics"]["val_accuracy"] <= 1
    assert out["status"] == "completed" and Path(out["run_dir"]).is_dir()
    assert "epoch 1/3" in result.stderr


def test_same_spec_and_seed_give_identical_results(spec, tmp_path):
    a = train(spec, tmp_path / "a")
    b = train(spec, tmp_path / "b")
    digest = [
        hashlib.sha256((r / "weights.safetensors").read_bytes()).hexdigest()
        for r in (a, b)
    ]
    assert digest[0] == digest[1]

    def metrics(run):
        return [
            {k: v for k, v in r.items() if k != "seconds"}
            for r in read_csv(run / "metrics.csv")
        ]

    assert metrics(a) == metrics(b)


def test_different_seed_gives_different_weights(spec, tmp_path):
    a = train(spec, tmp_path / "a")
    b = train(spec, tmp_path / "b", "--set", "seed=4")
    assert (a / "weights.safetensors").read_bytes() != (
        b / "weights.safetensors"
    ).read_bytes()


def test_two_runs_never_share_a_directory(spec, tmp_path):
    # CASE-031: same spec twice in the same second -> two directories
    first = train(spec, tmp_path)
    before = {p: p.read_bytes() for p in first.iterdir()}
    second = train(spec, tmp_path)
    assert first != second
    assert {p: p.read_bytes() for p in first.iterdir()} == before


def test_eval_scores_and_gates(spec, tmp_path):
    run = train(spec, tmp_path)
    ok = invoke("eval", run, "--json", "--fail-under", "accuracy=0.0")
    assert ok.exit_code == 0, ok.stderr
    result = json.loads(ok.stdout)
    summary = json.loads((run / "summary.json").read_text())
    # eval on the validation split reproduces the last epoch's validation numbers
    assert result["metrics"]["accuracy"] == pytest.approx(
        summary["final"]["val_accuracy"]
    )
    assert result["metrics"]["loss"] == pytest.approx(
        summary["final"]["val_loss"], rel=1e-5
    )
    assert result["gates"]["passed"] is True
    bad = invoke("eval", run, "--fail-under", "accuracy=1.01")
    assert bad.exit_code == 5
    assert "quality gate failed: accuracy" in bad.stderr


def test_eval_rejects_unknown_gate_metric(spec, tmp_path):
    run = train(spec, tmp_path)
    result = invoke("eval", run, "--fail-under", "f1=0.5")
    assert result.exit_code == 2
    assert "unknown metric 'f1'" in result.stderr


def test_eval_missing_run_is_an_error(tmp_path):
    result = invoke("eval", tmp_path / "nope")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and "does not exist" in result.stderr


def test_invalid_spec_exits_2_with_one_line_per_error_and_writes_nothing(
    write_spec, tmp_path
):
    bad = write_spec(
        MOONS.replace("units: 16", "units: -3").replace("epochs: 3", "epochs: 0")
    )
    result = invoke("train", bad, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == "2 errors"
    assert any(
        "model.layers[0].units: expected a value > 0, got -3" in ln for ln in lines
    )
    assert any(":15:" in ln and "epochs" in ln for ln in lines)
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()


def test_debug_shows_the_traceback(write_spec, tmp_path):
    bad = write_spec(MOONS.replace("units: 16", "units: -3"))
    result = invoke("train", bad, "--runs-dir", tmp_path, "--debug")
    assert result.exit_code == 2  # the same code as without --debug
    assert "Traceback" in result.stderr and "SpecError" in result.stderr


def test_missing_spec_file(tmp_path):
    result = invoke("train", tmp_path / "missing.yaml")
    assert result.exit_code == 2
    assert "spec file not found" in result.stderr


def test_bad_option_is_a_usage_error(spec):
    result = invoke("train", spec, "--no-such-option")
    assert result.exit_code == 2


def test_validate_checks_without_writing(spec, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("validate", spec)
    assert result.exit_code == 0, result.stderr
    assert "valid" in result.stdout and "150 training / 50 validation" in result.stdout
    assert not (tmp_path / "runs").exists()


def test_summary_of_spec_and_run_agree(spec, tmp_path):
    from_spec = json.loads(invoke("summary", spec, "--json").stdout)
    assert [r["params"] for r in from_spec["layers"]] == [48, 0, 17]
    assert from_spec["total_params"] == 65
    assert [r["output_shape"] for r in from_spec["layers"]] == [[16], [16], [1]]
    run = train(spec, tmp_path)
    assert json.loads(invoke("summary", run, "--json").stdout) == from_spec
    table = invoke("summary", spec)
    assert table.exit_code == 0 and "Total params: 65" in table.stdout


def test_schema_prints_json_schema():
    result = invoke("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "nncli spec" and "model" in schema["properties"]


def test_init_weights_round_trip(spec, tmp_path):
    run = train(spec, tmp_path / "a", "--set", "epochs=1")
    again = train(
        spec,
        tmp_path / "b",
        "--set",
        "epochs=1",
        "--set",
        "optimizer.learning_rate=0.0",
        "--init-weights",
        str(run / "weights.safetensors"),
    )
    assert (again / "weights.safetensors").read_bytes() != b""
    from safetensors.numpy import load_file

    a, b = (
        load_file(run / "weights.safetensors"),
        load_file(again / "weights.safetensors"),
    )
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)


def test_init_weights_shape_mismatch_is_a_clear_error(spec, write_spec, tmp_path):
    run = train(spec, tmp_path / "a", "--set", "epochs=1")
    other = write_spec(MOONS.replace("units: 16", "units: 8"), "other.yaml")
    result = invoke(
        "train",
        other,
        "--runs-dir",
        tmp_path / "b",
        "--init-weights",
        run / "weights.safetensors",
    )
    assert result.exit_code == 2
    assert "layers.0.kernel has shape (2, 16), the model needs (2, 8)" in result.stderr
    assert not (tmp_path / "b").exists()


CSV_SPEC = """\
seed: 0
data:
  train: data/train.csv
  validation: data/valid.csv
  target: label
model:
  input_shape: [2]
  layers:
    - {type: dense, units: 3, activation: softmax}
loss: sparse_categorical_crossentropy
optimizer: {type: sgd, learning_rate: 0.1}
metrics: [accuracy]
epochs: 2
"""


def _csv_project(root: Path) -> Path:
    (root / "data").mkdir(parents=True)
    rows = "a,b,label\n" + "".join(
        f"{i % 3},{i % 5},{'xyz'[i % 3]}\n" for i in range(30)
    )
    (root / "data" / "train.csv").write_text(rows)
    (root / "data" / "valid.csv").write_text(rows)
    spec = root / "spec.yaml"
    spec.write_text(CSV_SPEC)
    return spec


def test_run_records_absolute_paths_and_evals_from_anywhere(tmp_path, monkeypatch):
    import yaml

    spec = _csv_project(tmp_path / "proj")
    run = train(spec, tmp_path / "runs")
    resolved = yaml.safe_load((run / "spec.yaml").read_text())
    assert resolved["data"]["train"] == str(tmp_path / "proj" / "data" / "train.csv")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = invoke("eval", run, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["samples"] == 30


def test_predict_reports_class_names(tmp_path):
    spec = _csv_project(tmp_path / "proj")
    run = train(spec, tmp_path / "runs")
    new = tmp_path / "new.csv"
    new.write_text("a,b\n0,0\n2,4\n")
    result = invoke("predict", run, "--data", new, "--json")
    assert result.exit_code == 0, result.stderr
    preds = json.loads(result.stdout)["predictions"]
    assert len(preds) == 2 and all(p["label"] in ("x", "y", "z") for p in preds)
    assert all(abs(sum(p["output"]) - 1) < 1e-5 for p in preds)


def test_gates_take_aliases_val_prefix_and_fail_over(spec, tmp_path):
    run = train(spec, tmp_path)
    assert invoke("eval", run, "--fail-under", "acc=0.0").exit_code == 0
    assert invoke("eval", run, "--fail-under", "val_accuracy=0.0").exit_code == 0
    assert invoke("eval", run, "--fail-over", "loss=100").exit_code == 0
    high = invoke("eval", run, "--fail-over", "loss=0.0")
    assert high.exit_code == 5 and "quality gate failed: loss" in high.stderr
    wrong_way = invoke("eval", run, "--fail-under", "loss=0.5")
    assert wrong_way.exit_code == 2 and "--fail-over loss=0.5" in wrong_way.stderr


def test_json_failure_is_json_on_stdout(write_spec, tmp_path):
    bad = write_spec(MOONS.replace("units: 16", "units: -3"))
    result = invoke("validate", bad, "--json")
    assert result.exit_code == 2
    out = json.loads(result.stdout)
    assert out["ok"] is False and out["exit_code"] == 2
    assert "model.layers[0].units" in out["errors"][0]


def test_version():
    import nncli

    result = invoke("--version")
    assert (
        result.exit_code == 0 and result.stdout.strip() == f"nncli {nncli.__version__}"
    )


def test_predict_has_a_header_and_eval_refuses_other_columns(tmp_path):
    spec = _csv_project(tmp_path / "proj")
    run = train(spec, tmp_path / "runs")
    new = tmp_path / "new.csv"
    new.write_text("a,b,label\n0,0,\n")  # an empty label: predict ignores the target
    result = invoke("predict", run, "--data", new)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0] == "p_x,p_y,p_z,label"
    swapped = tmp_path / "swapped.csv"
    swapped.write_text("b,a,label\n0,0,x\n")
    bad = invoke("eval", run, "--data", swapped)
    assert bad.exit_code == 3
    assert "feature columns (b, a) differ from the training data's (a, b)" in bad.stderr


def test_run_files_follow_the_umask(spec, tmp_path):
    import os

    run = train(spec, tmp_path)
    mask = os.umask(0)
    os.umask(mask)
    for path in run.iterdir():
        assert path.stat().st_mode & 0o777 == 0o666 & ~mask


def test_eval_of_a_spec_file_says_it_needs_a_run(spec):
    result = invoke("eval", spec)
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {spec} is a spec file, not a run directory; train it first: "
        f"nncli train {spec}\n"
    )


@pytest.mark.parametrize(
    "command",
    [
        ["eval", "{path}"],
        ["predict", "{path}", "--data", "x.csv"],
        ["compare", "{path}", "{path}"],
        ["plot", "{path}", "--terminal"],
        ["summary", "{path}"],
        ["train", "--resume", "{path}"],
        ["train", "{spec}", "--from", "{path}"],
    ],
)
@pytest.mark.parametrize(
    "kind, fragment",
    [
        ("spec", "is a spec file, not a run directory; train it first: nncli train"),
        ("file", "is a file, not a run directory"),
        ("missing", "is not a run directory: it does not exist"),
        ("folder", "is not a run directory (no spec.yaml"),
        ("runs", "is not a run directory but holds runs; nncli runs --runs-dir"),
    ],
)
def test_not_a_run_directory_is_a_usage_error(command, kind, fragment, spec, tmp_path):
    """Every command that reads a run says, in one line naming the path, that
    the path is not one (exit 2), and JSON says so too."""
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "folder").mkdir()
    (tmp_path / "runs" / "r1").mkdir(parents=True)
    (tmp_path / "runs" / "r1" / "spec.yaml").write_text("x: 1\n")
    path = {
        "spec": spec,
        "file": tmp_path / "file.txt",
        "missing": tmp_path / "nope",
        "folder": tmp_path / "folder",
        "runs": tmp_path / "runs",
    }[kind]
    args = [a.format(path=path, spec=spec) for a in command]
    if command[0] != "summary" or kind in ("folder", "runs"):  # or a spec file
        result = invoke(*args)
        assert result.exit_code == 2, result.output
        (line,) = result.stderr.splitlines()
        assert line.startswith(f"error: {path} ") and fragment in line
        as_json = invoke(*args, "--json")
        assert as_json.exit_code == 2
        assert json.loads(as_json.stdout)["errors"] == [line.removeprefix("error: ")]


def test_a_run_that_lost_its_spec_is_damaged_not_a_usage_error(spec, tmp_path):
    run = train(spec, tmp_path)
    (run / "spec.yaml").unlink()
    result = invoke("eval", run)
    assert result.exit_code == 1
    assert "is a damaged nncli run: its spec.yaml is missing" in result.stderr


@pytest.mark.parametrize(
    "gate", ["accuracy=nan", "accuracy=1e999x", "accuracy=1_0", "accuracy", "=0.5"]
)
def test_malformed_gates_are_usage_errors(spec, tmp_path, gate):
    run = train(spec, tmp_path)
    result = invoke("eval", run, "--fail-under", gate)
    assert result.exit_code == 2 and "expected METRIC=NUMBER" in result.stderr


def test_a_gate_given_twice_is_refused(spec, tmp_path):
    run = train(spec, tmp_path)
    result = invoke(
        "eval", run, "--fail-under", "accuracy=0.1", "--fail-under", "accuracy=0.2"
    )
    assert result.exit_code == 2 and "given twice" in result.stderr


def test_help_stays_light():
    """`nncli --help` must not import the engine (numpy, pydantic) to answer."""
    import subprocess
    import sys

    code = (
        "import sys, nncli.cli; "
        "print(sorted(m for m in ('numpy', 'pydantic', 'yaml') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def _piped_into_head(args: list[str], cwd: Path) -> tuple[int, bytes, bytes]:
    """(nncli's exit status, its stderr, what `head -1` printed) for a real
    pipe whose reader stops after one line."""
    import subprocess
    import sys

    with subprocess.Popen(
        [sys.executable, "-m", "nncli", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as nncli:
        with subprocess.Popen(
            ["head", "-1"], stdin=nncli.stdout, stdout=subprocess.PIPE
        ) as head:
            nncli.stdout.close()  # head alone holds the read end now
            first, _ = head.communicate(timeout=120)
        err = nncli.stderr.read()
        return nncli.wait(timeout=120), err, first


def test_a_closed_pipe_stops_each_command_quietly_with_141(spec, tmp_path):
    run = str(train(spec, tmp_path / "runs"))
    many = tmp_path / "many"  # enough runs that the table outgrows a pipe's buffer
    for k in range(1500):
        (many / f"r-{k:04d}").mkdir(parents=True)
        for name in ("spec.yaml", "summary.json", "metrics.csv"):
            (many / f"r-{k:04d}" / name).write_bytes((Path(run) / name).read_bytes())
    rows = "\n".join(f"{k * 0.001},{-k * 0.001}" for k in range(60_000))
    (tmp_path / "new.csv").write_text("x1,x2\n" + rows + "\n")
    commands = [
        ["runs", "--runs-dir", str(many)],
        ["runs", "--runs-dir", str(many), "--json"],
        ["predict", run, "--data", "new.csv"],
        ["predict", run, "--data", "new.csv", "--json"],
    ]
    for args in commands:
        code, err, first = _piped_into_head(args, tmp_path)
        assert (code, err.decode()) == (141, ""), args
        assert first.strip()  # the reader got its line


@pytest.mark.parametrize(
    "status, why",
    [
        ("interrupted", "it was interrupted"),
        ("running", "it is still training, or was killed"),
        ("stopped", "its max_time ran out"),
    ],
)
def test_eval_of_an_unfinished_run_warns(status, why, spec, tmp_path):
    """A score of an unfinished run's weights comes with one warning line
    (and the warning in the JSON); a completed run's has none."""
    run = train(spec, tmp_path)
    clean = invoke("eval", run, "--json")
    assert clean.stderr == "" and json.loads(clean.stdout)["warnings"] == []
    path = run / "summary.json"
    summary = json.loads(path.read_text())
    summary.update(status=status, epochs_run=2)  # as a stop after epoch 2 leaves it
    path.write_text(json.dumps(summary))
    warning = (
        f"{run} is not finished ({why}, after 2 of 3 epochs); evaluating the "
        "weights of epoch 2"
    )
    result = invoke("eval", run)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [f"warning: {warning}"]
    assert "loss:" in result.stdout
    as_json = invoke("eval", run, "--json")
    assert json.loads(as_json.stdout)["warnings"] == [warning]


def test_tables_off_a_terminal_are_plain_ascii(spec, tmp_path):
    """`nncli summary spec | cat` and the other tables: no box-drawing
    characters or escape codes when stdout is not a terminal."""
    runs = tmp_path / "runs"
    run = train(spec, runs)
    other = train(spec, runs, "--set", "seed=4")
    outputs = {
        "summary spec": invoke("summary", spec),
        "summary run": invoke("summary", run),
        "validate": invoke("validate", spec),
        "runs": invoke("runs", "--runs-dir", runs),
        "compare": invoke("compare", run, other),
        "confusion": invoke("eval", run, "--confusion-matrix"),
    }
    for name, result in outputs.items():
        assert result.exit_code == 0, (name, result.output)
        assert result.stdout.isascii() and "\x1b" not in result.stdout, name
    lines = outputs["summary spec"].stdout.splitlines()
    assert lines[0] == "Model: tiny" and lines[1].split("  ")[0] == "Layer (type)"
    assert lines[-3:] == [
        "Total params: 65",
        "Trainable params: 65",
        "Non-trainable params: 0",
    ]


def test_every_json_result_carries_ok_and_the_exit_code(spec, tmp_path):
    """`jq .exit_code` reads the process's exit code from any --json result
    (success, a failed gate, an error), as it does from an error's JSON."""
    trained = invoke("train", spec, "--runs-dir", tmp_path / "runs", "--json")
    run = Path(json.loads(trained.stdout)["run_dir"])
    (tmp_path / "new.csv").write_text("x1,x2\n0,1\n1,-0.5\n")
    commands = [
        ["train", spec, "--runs-dir", tmp_path / "runs"],
        ["train", spec, "--smoke"],
        ["train", "--resume", run],  # nothing to resume: exit 0
        ["validate", spec],
        ["summary", spec],
        ["eval", run],
        ["eval", run, "--fail-under", "accuracy=1.01"],  # a failed gate: 5
        ["predict", run, "--data", tmp_path / "new.csv"],
        ["predict", run, "--data", tmp_path / "new.csv", "--out", tmp_path / "p.csv"],
        ["runs", "--runs-dir", tmp_path / "runs"],
        ["compare", run, run],
        ["plot", run, "--terminal"],
        ["eval", tmp_path / "nope"],  # an error: 2
    ]
    for args in commands:
        result = invoke(*args, "--json")
        out = json.loads(result.stdout)
        assert out["exit_code"] == result.exit_code, args
        assert out["ok"] is (result.exit_code == 0), args
    assert result.exit_code == 2
    gate = invoke("eval", run, "--fail-under", "accuracy=1.01", "--json")
    assert gate.exit_code == 5 and json.loads(gate.stdout)["gates"]["passed"] is False


def test_every_json_result_names_its_runs_by_run_dir(spec, tmp_path):
    """The run directory's path has one key in every --json result: run_dir
    (run_dirs for compare), as train --json writes it."""
    trained = invoke("train", spec, "--runs-dir", tmp_path / "runs", "--json")
    run = Path(json.loads(trained.stdout)["run_dir"])
    (tmp_path / "new.csv").write_text("x1,x2\n0,1\n")
    new = tmp_path / "new.csv"

    def out(*args):
        result = invoke(*args, "--json")
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)

    assert out("eval", run)["run_dir"] == str(run)
    assert out("predict", run, "--data", new)["run_dir"] == str(run)
    assert out("predict", run, "--data", new, "--out", tmp_path / "p")["run_dir"] == (
        str(run)
    )
    assert out("plot", run, "--terminal")["runs"][0]["run_dir"] == str(run)
    assert out("runs", "--runs-dir", run.parent)["runs"][0]["run_dir"] == str(run)
    assert out("compare", run, run)["run_dirs"] == [str(run), str(run)]
