"""Damaged or foreign weight and checkpoint files: a clear error before any
training starts, the right exit code, no traceback (and JSON with --json).

Exit codes: a run's own files that cannot be used are a failed run (1) for
eval, predict and --resume; weights given to start from (--init-weights FILE,
--from RUN) that cannot be used are bad input (2), as for a wrong shape.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from faultdisk import FaultyDisk, Killed
from typer.testing import CliRunner

from nncli import artifacts
from nncli.cli import app
from nncli.report import Reporter
from nncli.train import run as run_module
from nncli.train.run import prepare, prepare_resume, train

SPEC = """\
name: d
seed: 1
data: {dataset: {type: moons, n_samples: 64, noise: 0.2}, validation_split: 0.25}
model:
  input_shape: [2]
  layers:
    - {type: dense, units: 4, activation: relu}
    - {type: dropout, rate: 0.1}
    - {type: dense, units: 1, activation: sigmoid}
loss: binary_crossentropy
optimizer: {type: adam, learning_rate: 0.05}
metrics: [accuracy]
epochs: 2
batch_size: 8
callbacks:
  - {type: early_stopping, patience: 5, restore_best_weights: true}
  - {type: model_checkpoint, monitor: val_loss, save_best_only: true}
"""
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


class Runs:
    """A finished run, and the same run killed after its first epoch."""

    def __init__(self, tmp: Path) -> None:
        self.spec = tmp / "d.yaml"
        self.spec.write_text(SPEC)
        (tmp / "new.csv").write_text("x1,x2\n0.5,0.25\n-1,0.5\n")
        self.data = tmp / "new.csv"
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(run_module._Record, "FLUSH_SECONDS", 0.0)
            disk = FaultyDisk(tmp / "done", mp)
            self.done, _ = train(prepare(self.spec), tmp / "done", Reporter(quiet=True))
            # killed at the first write after epoch 1's summary
            ends = [i for i, op in enumerate(disk.ops) if op[0] == "replace"]
            ends = [i for i in ends if disk.ops[i][1] == artifacts.SUMMARY]
            disk = FaultyDisk(tmp / "killed", mp)
            disk.fail(ends[1] + 1, "kill")
            with pytest.raises(Killed):
                train(prepare(self.spec), tmp / "killed", Reporter(quiet=True))
        (self.stopped,) = (tmp / "killed").iterdir()


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Runs:
    return Runs(tmp_path_factory.mktemp("damaged"))


def _copy(run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(run, tmp_path / run.name))


def _damages(data: bytes) -> dict[str, bytes | None]:
    n = int.from_bytes(data[:8], "little")
    body = len(data) - 8 - n

    def flip(i: int) -> bytes:
        return data[:i] + bytes([data[i] ^ 0x10]) + data[i + 1 :]

    return {
        "empty": b"",
        "cut-in-length": data[:5],
        "cut-in-header": data[: 8 + n // 2],
        "header-only": data[: 8 + n],
        "cut-in-tensors": data[: 8 + n + body // 2],
        "last-byte-missing": data[:-1],
        "byte-appended": data + b"\x00",
        "flipped-length": flip(1),
        "flipped-header": flip(8 + n // 3),
        "flipped-metadata": flip(data.index(b"__metadata__") + 20),
        "flipped-tensor": flip(8 + n + body // 3),
        "flipped-last-byte": flip(len(data) - 1),
        "directory": None,
    }


DAMAGES = [
    "empty",
    "cut-in-length",
    "cut-in-header",
    "header-only",
    "cut-in-tensors",
    "last-byte-missing",
    "byte-appended",
    "flipped-length",
    "flipped-header",
    "flipped-metadata",
    "flipped-tensor",
    "flipped-last-byte",
    "directory",
]


def _damage(path: Path, how: str) -> None:
    new = _damages(path.read_bytes())[how]
    path.unlink()
    if new is None:
        path.mkdir()
    else:
        path.write_bytes(new)


def _one_error(result, code: int, *fragments: str) -> str:
    assert result.exit_code == code, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ")
    for fragment in fragments:
        assert fragment in line, line
    return line


def _snapshot(run: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(run)): p.read_bytes()
        for p in sorted(run.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("how", DAMAGES)
def test_damaged_weights(runs, tmp_path, how):
    run = _copy(runs.stopped, tmp_path)
    weights = run / artifacts.WEIGHTS
    _damage(weights, how)
    for args in (["eval", run], ["predict", run, "--data", runs.data]):
        _one_error(invoke(*args), 1, str(weights))
        out = invoke(*args, "--json")
        _one_error(out, 1, str(weights))
        assert json.loads(out.stdout)["exit_code"] == 1
    new_runs = tmp_path / "new"
    for start in (["--from", run], ["--init-weights", weights]):
        result = invoke("train", runs.spec, "--runs-dir", new_runs, *start)
        line = _one_error(result, 2, str(weights))
        assert line.startswith(f"error: {start[0]} {start[1]}: "), line  # as typed
        assert not new_runs.exists()  # refused before a run directory was made


@pytest.mark.parametrize("how", ["empty", "flipped-tensor", "directory"])
def test_resume_rewrites_damaged_weights(runs, tmp_path, how):
    """--resume reads only the checkpoint; it writes the weights anew."""
    run = _copy(runs.stopped, tmp_path)
    _damage(run / artifacts.WEIGHTS, how)
    if how == "directory":  # cannot be replaced: refused before training
        before = _snapshot(run)
        _one_error(invoke("train", "-q", "--resume", run), 1, artifacts.WEIGHTS)
        assert _snapshot(run) == before
        (run / artifacts.WEIGHTS).rmdir()
    result = invoke("train", "-q", "--resume", run)
    assert result.exit_code == 0, result.output
    done = runs.done / artifacts.WEIGHTS
    assert (run / artifacts.WEIGHTS).read_bytes() == done.read_bytes()


@pytest.mark.parametrize("how", DAMAGES)
def test_damaged_checkpoint(runs, tmp_path, how):
    run = _copy(runs.stopped, tmp_path)
    path = run / artifacts.CHECKPOINT
    _damage(path, how)
    before = _snapshot(run)
    result = invoke("train", "-q", "--resume", run, "--json")
    line = _one_error(result, 1, str(run))
    assert artifacts.CHECKPOINT in line or "checkpoint" in line
    assert json.loads(result.stdout) == {
        "ok": False,
        "exit_code": 1,
        "errors": [line.removeprefix("error: ")],
    }
    assert _snapshot(run) == before  # nothing trained, nothing written
    assert invoke("eval", run).exit_code == 0  # the weights are still good


def test_sealed_files_still_load_elsewhere(runs):
    """The checksum is one more metadata entry: plain safetensors reads it."""
    from safetensors.numpy import load_file

    weights = load_file(runs.done / artifacts.WEIGHTS)
    assert set(weights) == {
        f"layers.{i}.{p}" for i in (0, 2) for p in ("kernel", "bias")
    }
    data = (runs.done / artifacts.WEIGHTS).read_bytes()
    assert artifacts.SEAL.encode() in data[: 8 + int.from_bytes(data[:8], "little")]


# --- weights or checkpoints of another model --------------------------------


OTHER_MODELS = {
    "wider": "model.layers[0].units=5",
    "deeper": (
        "model.layers=[{type: dense, units: 4, activation: relu}, {type: dense, "
        "units: 4, activation: relu}, {type: dense, units: 1, activation: sigmoid}]"
    ),
    "no-dropout": (
        "model.layers=[{type: dense, units: 4, activation: relu}, {type: dense, "
        "units: 1, activation: sigmoid}]"
    ),
}


@pytest.mark.parametrize("change", list(OTHER_MODELS))
def test_weights_of_another_architecture(runs, tmp_path, change):
    override = ["--set", OTHER_MODELS[change], "--runs-dir", tmp_path / "new"]
    for start in (
        ["--from", runs.done],
        ["--init-weights", runs.done / "weights.safetensors"],
    ):
        result = invoke("train", runs.spec, *override, *start)
        line = _one_error(result, 2, "model.init_weights")
        assert line.startswith(f"error: {start[0]} {start[1]}: "), line  # as typed
        assert "does not match the model" in result.stderr or "shape" in result.stderr
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize(
    "override",
    [
        *OTHER_MODELS.values(),
        "callbacks=[]",
        # the same callbacks in the other order: each state fits the other badly
        "callbacks=[{type: model_checkpoint, monitor: val_loss, save_best_only: true},"
        " {type: early_stopping, patience: 5, restore_best_weights: true}]",
    ],
    ids=[*OTHER_MODELS, "no-callbacks", "callbacks-swapped"],
)
def test_resume_force_into_another_model(runs, tmp_path, override):
    run = _copy(runs.stopped, tmp_path)
    before = _snapshot(run)
    result = invoke("train", "-q", "--resume", run, "--set", override)
    _one_error(result, 2, "differs from the run's", "--force")
    result = invoke("train", "-q", "--resume", run, "--force", "--set", override)
    _one_error(result, 1, f"cannot resume {run}")
    assert _snapshot(run) == before


def test_resume_with_another_runs_checkpoint(runs, tmp_path):
    run = _copy(runs.stopped, tmp_path)
    other, _ = train(
        prepare(runs.spec, ["model.layers[0].units=7", "epochs=1"]),
        tmp_path / "other",
        Reporter(quiet=True),
    )
    for source, fragment in (
        (artifacts.CHECKPOINT, "layers.0.kernel has shape (2, 7)"),
        (artifacts.WEIGHTS, "not an nncli checkpoint"),
    ):
        shutil.copy(other / source, run / artifacts.CHECKPOINT)
        before = _snapshot(run)
        _one_error(invoke("train", "-q", "--resume", run), 1, fragment)
        assert _snapshot(run) == before


def test_resume_after_damage_is_repaired(runs, tmp_path):
    """Putting the good checkpoint back makes the run resumable again."""
    run = _copy(runs.stopped, tmp_path)
    good = (run / artifacts.CHECKPOINT).read_bytes()
    _damage(run / artifacts.CHECKPOINT, "flipped-tensor")
    assert invoke("train", "-q", "--resume", run).exit_code == 1
    (run / artifacts.CHECKPOINT).write_bytes(good)
    session = prepare_resume(run, None, [], False)
    train(session, run.parent, Reporter(quiet=True), resume=run)
    done = runs.done / artifacts.WEIGHTS
    assert (run / artifacts.WEIGHTS).read_bytes() == done.read_bytes()
