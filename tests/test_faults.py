"""No fault loses or corrupts what a run has written.

A clean run is traced write by write (tests/faultdisk.py); then, for every one
of those writes, a run fails there with a disk error (once, or from then on
like a full disk) or is killed there. Each time the files left behind must be
complete and describe the same epoch (metrics rows = weights; the checkpoint
at most one epoch behind; the summary behind only when it is what could not be
written), and `--resume` must end byte-identical to the run that never failed.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from faultdisk import ERRNOS, FaultyDisk, Killed
from typer.testing import CliRunner

from nncli import artifacts
from nncli.cli import app
from nncli.errors import NothingToResume, RunError
from nncli.report import Reporter
from nncli.train import checkpoint
from nncli.train import run as run_module
from nncli.train.run import prepare, prepare_resume, train

EPOCHS = 2
# every kind of state a resume must restore (dropout RNG, adam slots, callback
# counters) and every kind of file: model_checkpoint saves each epoch and the
# best; early stopping watches training loss as "max", so the best is epoch 1
# and the end rewrites the weights (restore_best_weights)
SPEC = f"""\
name: f
seed: 3
data: {{dataset: {{type: moons, n_samples: 64, noise: 0.2}}, validation_split: 0.25}}
model:
  input_shape: [2]
  layers:
    - {{type: dense, units: 4, activation: relu}}
    - {{type: dropout, rate: 0.2}}
    - {{type: dense, units: 1, activation: sigmoid}}
loss: binary_crossentropy
optimizer: {{type: adam, learning_rate: 0.05}}
metrics: [accuracy]
epochs: {EPOCHS}
batch_size: 8
callbacks:
  - {{type: model_checkpoint, monitor: val_loss}}
  - {{type: early_stopping, monitor: loss, mode: max, patience: 50,
      restore_best_weights: true}}
"""
runner = CliRunner()


def _train(spec: Path, runs: Path, resume: Path | None = None) -> Path:
    if resume is None:
        session = prepare(spec)
    else:
        session = prepare_resume(resume, None, [], False)
    run_dir, _ = train(session, runs, Reporter(quiet=True), ["nncli"], resume)
    return run_dir


def _rows(run: Path) -> list[list[str]]:
    with (run / artifacts.METRICS).open(newline="") as f:
        return [row[:-1] for row in csv.reader(f)]  # all but `seconds`


def _files(run: Path) -> list[str]:
    return sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file())


def _same_run(a: Path, b: Path) -> None:
    """`b` holds what the uninterrupted run `a` holds, byte for byte."""
    assert _files(a) == _files(b)
    for name in _files(a):
        if name not in (artifacts.METRICS, artifacts.SUMMARY):
            assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert _rows(a) == _rows(b)
    sa, sb = (json.loads((r / artifacts.SUMMARY).read_text()) for r in (a, b))
    assert sa["status"] == sb["status"] == "completed"
    for key in ("epochs_run", "best", "checkpoints", "restored_weights_of_epoch"):
        assert sa.get(key) == sb.get(key), key
    assert {k: v for k, v in sa["final"].items() if k != "seconds"} == {
        k: v for k, v in sb["final"].items() if k != "seconds"
    }


class Straight:
    """The uninterrupted run, the writes it makes, and its weights by epoch."""

    def __init__(self, spec: Path, run: Path, ops: list[tuple[str, str]]) -> None:
        self.spec, self.run, self.ops = spec, run, ops
        initial = prepare(spec).model.network.get_weights()
        self.epoch_of = {_weights_bytes(initial): 0}
        for k in range(1, EPOCHS + 1):
            path = run / artifacts.CHECKPOINTS / f"epoch-{k:04d}.safetensors"
            self.epoch_of[path.read_bytes()] = k
        self.best = json.loads((run / artifacts.SUMMARY).read_text())[
            "restored_weights_of_epoch"
        ]


def _weights_bytes(weights: dict[str, np.ndarray]) -> bytes:
    from safetensors.numpy import save

    arrays = {k: np.ascontiguousarray(v) for k, v in weights.items()}
    return artifacts.seal(save(arrays, metadata=run_module._Record.META))


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> Straight:
    tmp = tmp_path_factory.mktemp("straight")
    spec = tmp / "f.yaml"
    spec.write_text(SPEC)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(run_module._Record, "FLUSH_SECONDS", 0.0)  # a flush per epoch
        disk = FaultyDisk(tmp / "runs", mp)
        run = _train(spec, tmp / "runs")
    assert json.loads((run / artifacts.SUMMARY).read_text())["best"]
    return Straight(spec, run, disk.ops)


def test_the_trace_covers_every_write_point(straight):
    """The sweeps below fail at each of these: make sure they are all there."""
    for name in artifacts.FILES:
        assert ("fsync", f"{name}~tmp") in straight.ops
        assert ("replace", name) in straight.ops
    assert ("write", artifacts.METRICS) in straight.ops  # an append
    assert ("mkdir", "<run>") in straight.ops and (
        "mkdir",
        "checkpoints",
    ) in straight.ops
    assert ("replace", "checkpoints/best.safetensors") in straight.ops
    # the end: the best epoch's weights, then the final summary
    assert straight.ops[-6:] == [
        ("open", "weights.safetensors~tmp"),
        ("fsync", "weights.safetensors~tmp"),
        ("replace", "weights.safetensors"),
        ("open", "summary.json~tmp"),
        ("fsync", "summary.json~tmp"),
        ("replace", "summary.json"),
    ]
    assert straight.best == 1


def _on_disk(run: Path, straight: Straight) -> dict:
    """What each file says (all must be complete): the epoch of the weights,
    the metrics rows, the checkpoint's epoch and the summary."""
    for name in (artifacts.SPEC, artifacts.PREPROCESSING, artifacts.SPLIT):
        assert (run / name).read_bytes() == (straight.run / name).read_bytes(), name
    rows = _rows(run)[1:] if (run / artifacts.METRICS).exists() else []
    assert rows == _rows(straight.run)[1 : len(rows) + 1]  # whole, true rows
    summary = json.loads((run / artifacts.SUMMARY).read_text())
    reader = artifacts.RunReader(run)
    weights = (run / artifacts.WEIGHTS).read_bytes()
    assert weights in straight.epoch_of, "weights of no epoch of the clean run"
    return {
        "weights": straight.epoch_of[weights],
        "rows": len(rows),
        "checkpoint": checkpoint.from_bytes(reader.checkpoint()).epoch,
        "summary": summary["epochs_run"],
        "status": summary["status"],
    }


def _check_consistent(s: dict, killed: bool, straight: Straight) -> None:
    weights = s["weights"]
    if s["rows"] == EPOCHS and weights == straight.best:
        weights = EPOCHS  # restore_best_weights has run
    if killed:  # a kill can land between the metrics append and the renames
        assert s["rows"] - weights in (0, 1)
        assert s["rows"] - s["checkpoint"] in (0, 1)
    else:  # an error is rolled back to whole epochs
        assert s["rows"] == weights
    assert weights - s["checkpoint"] in (0, 1)
    # the summary lags only when its own write is what failed
    assert s["summary"] <= s["rows"]
    if s["status"] == "failed":
        assert s["summary"] == s["rows"]


def _sweep(straight: Straight, tmp_path: Path, monkeypatch, mode: str) -> list[str]:
    """Fail at each write of the clean run; the problems found, one a line."""
    monkeypatch.setattr(run_module._Record, "FLUSH_SECONDS", 0.0)
    problems = []
    for k, (call, name) in enumerate(straight.ops):
        if mode == "once" and k < straight.ops.index(("replace", artifacts.SUMMARY)):
            continue  # during set-up "once" is "persist": nothing is retried
        where = f"{mode} at write {k} ({call} {name})"
        runs = tmp_path / f"{mode}{k}"
        err = ERRNOS[k % len(ERRNOS)]
        with monkeypatch.context() as mp:
            disk = FaultyDisk(runs, mp)
            disk.fail(k, mode, err)
            try:
                _train(straight.spec, runs)
                error = None
            except (RunError, Killed) as e:
                error = e
            assert disk.ops[k] == (call, name), f"{where}: the writes changed"
            disk.heal()
            try:
                _check_after(straight, runs, mode, name, error, err)
                _resume_and_compare(straight, runs)
            except AssertionError as e:
                problems.append(f"{where}: {e}")
    return problems


def _check_after(straight, runs, mode, name, error, err) -> None:
    made = list(runs.iterdir()) if runs.exists() else []
    if mode != "kill" and error is not None:  # names the file and the reason
        message = str(error)
        assert str(runs) in message and os.strerror(err) in message, message
        assert name.startswith("<") or f"/{name.split('~')[0]}" in message, message
    if not made:
        return
    (run,) = made
    if mode == "kill" and not (run / artifacts.SUMMARY).exists():
        # killed while the directory was being set up: readers say so clearly
        with pytest.raises(RunError):
            artifacts.RunReader(run).summary()
        return
    if mode != "kill":
        leftovers = [str(p) for p in run.rglob("*.tmp")]
        assert not leftovers, leftovers
        assert error is None or run.name in str(error)
    _check_consistent(_on_disk(run, straight), mode == "kill", straight)
    if mode == "once" and error is not None:  # the disk recovered: it says so
        assert json.loads((run / artifacts.SUMMARY).read_text())["status"] == "failed"


def _resume_and_compare(straight: Straight, runs: Path) -> None:
    made = list(runs.iterdir()) if runs.exists() else []
    if not made or not (made[0] / artifacts.SUMMARY).exists():
        return  # nothing made, or killed during set-up (checked above)
    (run,) = made
    status = json.loads((run / artifacts.SUMMARY).read_text())["status"]
    if status != "completed":
        assert _train(straight.spec, runs, resume=run) == run
    _same_run(straight.run, run)


def test_disk_full_at_every_write(straight, tmp_path, monkeypatch):
    """The error stays: every write from the k-th on fails (a full disk)."""
    problems = _sweep(straight, tmp_path, monkeypatch, "persist")
    assert not problems, "\n".join(problems)


def test_one_failed_write_at_every_write(straight, tmp_path, monkeypatch):
    """Only the k-th write fails; the clean-up that follows works (and must not
    write anything twice, like a metrics row)."""
    problems = _sweep(straight, tmp_path, monkeypatch, "once")
    assert not problems, "\n".join(problems)


def test_killed_at_every_write(straight, tmp_path, monkeypatch):
    """The process dies at the k-th write: no handler, no clean-up runs."""
    problems = _sweep(straight, tmp_path, monkeypatch, "kill")
    assert not problems, "\n".join(problems)


# --- what the user sees --------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "name", "nth"),
    [
        ("mkdir", "<run>", 1),  # creating the run directory
        ("fsync", "spec.yaml~tmp", 1),  # the first files
        ("fsync", "weights.safetensors~tmp", 2),  # epoch 1: staging weights
        ("fsync", "checkpoint.safetensors~tmp", 3),  # epoch 2: the checkpoint
        ("write", "metrics.csv", 1),  # epoch 2: appending its row
        ("replace", "weights.safetensors", 3),  # epoch 2: committing
        ("replace", "checkpoints/epoch-0002.safetensors", 1),  # model_checkpoint
        ("replace", "summary.json", -1),  # the final summary
    ],
)
@pytest.mark.parametrize("json_out", [False, True], ids=["text", "json"])
def test_disk_full_is_one_clear_line_and_exit_1(
    straight, tmp_path, monkeypatch, call, name, nth, json_out
):
    monkeypatch.setattr(run_module._Record, "FLUSH_SECONDS", 0.0)
    k = [i for i, op in enumerate(straight.ops) if op == (call, name)]
    k = k[nth - 1 if nth > 0 else nth]
    runs = tmp_path / "runs"
    disk = FaultyDisk(runs, monkeypatch)
    disk.fail(k, "persist")
    args = ["train", str(straight.spec), "--runs-dir", str(runs), "-q"]
    result = runner.invoke(app, args + (["--json"] if json_out else []))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: cannot ") and "No space left on device" in line
    if name.startswith("<"):
        assert str(runs) in line and not list(runs.iterdir())
    else:
        assert str(runs) in line and line.split(": ")[1].endswith(name.split("~")[0])
    if json_out:
        out = json.loads(result.stdout)
        assert out["ok"] is False and out["exit_code"] == 1
        assert out["errors"] == [line.removeprefix("error: ")]
    else:
        assert result.stdout == ""
    disk.heal()
    made = list(runs.iterdir())
    if made:  # and the run can be finished
        result = runner.invoke(app, ["train", "-q", "--resume", str(made[0])])
        assert result.exit_code == 0, result.output
        _same_run(straight.run, made[0])


def test_a_failed_final_summary_is_finished_by_resume(straight, tmp_path, monkeypatch):
    """Training was complete; only the end failed. Resume trains nothing more,
    restores the best weights and writes the completed summary."""
    monkeypatch.setattr(run_module._Record, "FLUSH_SECONDS", 0.0)
    disk = FaultyDisk(tmp_path, monkeypatch)
    disk.fail(len(straight.ops) - 6, "persist")  # the best weights at the end
    with pytest.raises(RunError, match="weights.safetensors"):
        _train(straight.spec, tmp_path)
    disk.heal()
    (run,) = tmp_path.iterdir()
    assert json.loads((run / artifacts.SUMMARY).read_text())["status"] == "running"
    before = len(disk.ops)
    assert _train(straight.spec, tmp_path, resume=run) == run
    written = {name for _, name in disk.ops[before:]}
    assert artifacts.METRICS not in written and artifacts.CHECKPOINT not in written
    _same_run(straight.run, run)
    summary = json.loads((run / artifacts.SUMMARY).read_text())
    assert summary["resumed"][-1]["after_epoch"] == EPOCHS
    with pytest.raises(NothingToResume, match="nothing to resume"):
        _train(straight.spec, tmp_path, resume=run)


def test_an_early_stopped_run_that_failed_to_finish_is_not_trained_on(tmp_path):
    """The stop is in the checkpoint, so resume finishes instead of training on."""
    spec = tmp_path / "e.yaml"
    spec.write_text(
        SPEC.replace("mode: max, patience: 50", "mode: min, patience: 0").replace(
            f"epochs: {EPOCHS}", "epochs: 30"
        )
    )
    run = _train(spec, tmp_path / "a")
    summary = json.loads((run / artifacts.SUMMARY).read_text())
    stopped_at = summary["epochs_run"]
    assert summary["stopped"].startswith("early stopping") and stopped_at < 30
    # the same run, with its final summary lost to a full disk
    with pytest.MonkeyPatch.context() as mp:
        real = artifacts.RunWriter.write_summary

        def full(self, s):
            if s.get("finished"):
                raise RunError(f"cannot write {self.dir}/summary.json: disk full")
            real(self, s)

        mp.setattr(artifacts.RunWriter, "write_summary", full)
        with pytest.raises(RunError, match="disk full"):
            _train(spec, tmp_path / "b")
    (failed,) = (tmp_path / "b").iterdir()
    assert _train(spec, tmp_path / "b", resume=failed) == failed
    again = json.loads((failed / artifacts.SUMMARY).read_text())
    assert again["epochs_run"] == stopped_at and again["stopped"] == summary["stopped"]
    _same_run(run, failed)


# --- runs directory -------------------------------------------------------------


def _train_cli(spec: Path, runs: Path, *extra: str):
    return runner.invoke(app, ["train", str(spec), "--runs-dir", str(runs), *extra])


def test_missing_runs_directory_is_created(straight, tmp_path):
    runs = tmp_path / "a" / "b" / "runs"
    result = _train_cli(straight.spec, runs, "-q")
    assert result.exit_code == 0, result.output
    (run,) = runs.iterdir()
    _same_run(straight.run, run)


@pytest.mark.parametrize("err", [13, 30], ids=["EACCES", "EROFS"])
@pytest.mark.parametrize("depth", [0, 2], ids=["existing", "missing-parents"])
def test_unwritable_runs_directory(straight, tmp_path, monkeypatch, err, depth):
    """Read-only (or not ours): one clear line, exit 1, nothing made on the way."""
    runs = tmp_path.joinpath(*["p"] * depth, "runs")
    if depth == 0:
        runs.mkdir()
    real = os.mkdir

    def refuse(path, *args, **kwargs):
        path = Path(path)
        if path.parent == runs or (path == runs and path.parent.exists()):
            raise OSError(err, os.strerror(err), str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", refuse)
    result = _train_cli(straight.spec, runs, "-q")
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert str(runs) in line and os.strerror(err) in line
    assert sorted(tmp_path.rglob("*")) == ([runs] if depth == 0 else [])


def test_runs_path_that_is_a_file(straight, tmp_path):
    (tmp_path / "runs").write_text("not a folder")
    for runs in (tmp_path / "runs", tmp_path / "runs" / "deeper"):
        result = _train_cli(straight.spec, runs, "-q")
        assert result.exit_code == 1, result.output
        (line,) = result.stderr.splitlines()
        assert line.startswith("error: ") and str(tmp_path / "runs") in line
        assert "Traceback" not in result.output
    assert (tmp_path / "runs").read_text() == "not a folder"


def test_real_full_file_system(straight, tmp_path, monkeypatch):
    """A tiny tmpfs really fills up (skipped where mounting is not allowed)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)]
    try:
        ok = subprocess.run(mount, capture_output=True).returncode == 0
    except OSError:
        ok = False
    if not ok:
        pytest.skip("cannot mount a tmpfs here")
    try:
        monkeypatch.setattr(run_module._Record, "FLUSH_SECONDS", 0.0)
        spec = tmp_path / "big.yaml"
        spec.write_text(SPEC.replace(f"epochs: {EPOCHS}", "epochs: 40"))
        with pytest.raises(RunError, match="No space left on device"):
            _train(spec, mnt)
        (run,) = mnt.iterdir()
        assert not list(run.rglob("*.tmp"))
        rows = len(_rows(run)) - 1 if (run / artifacts.METRICS).exists() else 0
        s = json.loads((run / artifacts.SUMMARY).read_text())
        assert s["epochs_run"] <= rows < 40
        reader = artifacts.RunReader(run)
        assert checkpoint.from_bytes(reader.checkpoint()).epoch in (rows, rows - 1)
        subprocess.run(["mount", "-o", "remount,size=4m", str(mnt)], check=True)
        assert _train(spec, mnt, resume=run) == run
        whole = _train(spec, tmp_path / "whole")
        _same_run(whole, run)
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


# --- what a killed process leaves ---------------------------------------------


def _stopped_run(straight: Straight, tmp_path: Path, epochs: int) -> Path:
    """The clean run killed right after it wrote epoch `epochs`."""
    ends = [i for i, op in enumerate(straight.ops) if op == ("replace", "summary.json")]
    runs = tmp_path / "runs"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(run_module._Record, "FLUSH_SECONDS", 0.0)
        FaultyDisk(runs, mp).fail(ends[epochs] + 1, "kill")
        with pytest.raises(Killed):
            _train(straight.spec, runs)
    (run,) = runs.iterdir()
    assert len(_rows(run)) == epochs + 1
    return run


def test_metrics_rows_after_the_checkpoint_are_dropped(straight, tmp_path):
    """The window between the metrics append and the checkpoint's rename: the
    rows of later epochs (and a torn line) are on disk, the checkpoint is not."""
    run = _stopped_run(straight, tmp_path, 1)
    later = (straight.run / artifacts.METRICS).read_text().splitlines()[2:]
    with (run / artifacts.METRICS).open("a") as f:
        f.write("\n".join(later) + "\n" + later[-1][:7])
    assert _train(straight.spec, tmp_path / "runs", resume=run) == run
    _same_run(straight.run, run)


def test_damaged_metrics_rows_before_the_checkpoint_are_a_clear_error(
    straight, tmp_path
):
    run = _stopped_run(straight, tmp_path, 2)
    lines = (run / artifacts.METRICS).read_text().splitlines()
    (run / artifacts.METRICS).write_text("\n".join([lines[0], "1,x", lines[2]]))
    result = runner.invoke(app, ["train", "--resume", str(run)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "metrics.csv is damaged" in result.stderr


def test_leftover_temporary_files(straight, tmp_path):
    """Never read as the real files; a resume removes them (a writer holds the
    directory's lock, so no live process can still own them)."""
    run = _stopped_run(straight, tmp_path, 1)
    leftovers = [
        run / ".weights.safetensors.k1ll3d.tmp",
        run / ".checkpoint.safetensors.x_9.tmp",
        run / ".metrics.csv.abc.tmp",
        run / ".summary.json.q.tmp",
        run / artifacts.CHECKPOINTS / ".best.safetensors.zz.tmp",
    ]
    for path in leftovers:
        path.write_bytes(b"\x00garbage from a killed writer")
    result = runner.invoke(app, ["eval", str(run), "--json"])
    assert result.exit_code == 0, result.output
    assert _train(straight.spec, tmp_path / "runs", resume=run) == run
    assert not any(p.exists() for p in leftovers)
    _same_run(straight.run, run)


def test_setup_kill_leaves_clear_errors(straight, tmp_path):
    """A run directory cut short while being set up (killed in its first
    milliseconds) is named as such by every command."""
    run = tmp_path / "f-20260101-000000"
    run.mkdir()
    shutil.copy(straight.run / artifacts.SPEC, run / artifacts.SPEC)
    for args in (["eval", run], ["train", "-q", "--resume", run]):
        result = runner.invoke(app, [str(a) for a in args])
        assert result.exit_code == 1 and "Traceback" not in result.output
        (line,) = result.stderr.splitlines()
        assert str(run) in line
