"""train(): a prepared Session -> training loop -> run directory.

`prepare(spec)` (from session.py, re-exported here) then `train(session, ...)`
is what `nncli train` does; tests and notebooks can call them too. Everything
that can be checked is checked in `prepare`, before the run directory exists,
so a bad spec or bad data leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import math
import platform
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import nncli
from nncli import artifacts
from nncli.errors import (
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    DivergedError,
    Interrupted,
    NothingToResume,
    RunError,
    SpecError,
)
from nncli.report import Reporter
from nncli.train import checkpoint
from nncli.train.loop import (
    Budget,
    DivergedEvent,
    EpochEvent,
    StepEvent,
    smoke_steps,
    train_epochs,
)
from nncli.train.session import (  # noqa: F401  (re-exported: the run API)
    Session,
    attach_data,
    build_session,
    prepare,
)
from nncli.train.signals import DeferredSignals, Terminated


def with_absolute_paths(resolved: dict[str, Any], spec_dir: Path) -> dict[str, Any]:
    """A copy of the resolved spec whose file paths no longer depend on its folder."""

    def absolute(text: str | None) -> str | None:
        if text is None:
            return None
        path = Path(text).expanduser()
        return str((path if path.is_absolute() else spec_dir / path).resolve())

    out = {**resolved, "data": dict(resolved["data"]), "model": dict(resolved["model"])}
    for key in ("train", "x", "y", "validation"):
        out["data"][key] = absolute(out["data"][key])
    out["model"]["init_weights"] = absolute(out["model"]["init_weights"])
    return out


def prepare_resume(
    run_dir: Path, spec: Path | None, overrides: list[str], force: bool
) -> Session:
    """The session to resume `run_dir` with: its own spec, or `spec`, plus
    `overrides`. Any difference from the run's spec but `epochs` and
    `max_time`, and any change in its data (a data file's or the arrays'
    sha256), is refused (listing each) unless `force`."""

    reader = artifacts.RunReader(run_dir)
    base = Path(spec) if spec is not None else reader.dir / artifacts.SPEC
    session = prepare(base, overrides)
    if force:
        return session
    changes = resume_changes(reader, session)
    diffs = [
        d
        for d in changes.spec
        if d.split(":")[0] not in ("epochs", "max_time")  # neither changes results
    ]
    if diffs:
        raise SpecError(
            f"the spec differs from the run's ({'; '.join(diffs)}); resuming would "
            "not continue the same training. Start a new run, or add --force"
        )
    if changes.data:
        raise SpecError(
            f"the data differs from the run's: {'; '.join(changes.data)}; "
            "resuming would not continue the same training. Start a new run, "
            "or add --force"
        )
    return session


@dataclass
class ResumeChanges:
    """How a resumed session differs from its run: the spec (every leaf,
    `epochs` included) and the data (each changed file, or the arrays),
    with the spec and data hashes the resumed training uses."""

    spec: list[str]
    data: list[str]
    resolved: dict[str, Any]  # the spec to write as the run's spec.yaml
    data_files: dict[str, str]
    data_sha256: dict[str, str]


def resume_changes(reader: artifacts.RunReader, session: Session) -> ResumeChanges:
    """Compare `session` with the run `reader` reads (its spec.yaml and the
    hashes its summary.json recorded)."""
    stored, summary = reader.spec(), reader.summary()
    spec_dir = session.spec_path.resolve().parent
    now = with_absolute_paths(session.resolved, spec_dir)
    # the run started from its init_weights once; its checkpoint replaces them
    now["model"]["init_weights"] = stored.get("model", {}).get("init_weights")
    spec = spec_differences(stored, now)
    files = data_file_hashes(session.resolved, spec_dir)
    arrays = split_hashes(session.splits)
    data = [
        f"{path} has changed (sha256 {files[path][:12]}, the run read {old[:12]})"
        for path, old in summary.get("data_files", {}).items()
        if path in files and files[path] != old
    ]
    if not data:  # a changed file already explains changed arrays
        data = [
            f"the {role} arrays the model sees have changed (sha256 "
            f"{arrays[role][:12]}, the run saw {old[:12]})"
            for role, old in summary.get("data_sha256", {}).items()
            if role in arrays and arrays[role] != old
        ]
    return ResumeChanges(spec, data, now, files, arrays)


_ABSENT = object()  # a key one side of a difference does not have


def spec_differences(old: Any, new: Any, path: str = "") -> list[str]:
    """'path: run has X, now Y' for every leaf that differs, X and Y written
    as in YAML (`null`, `true`, `[1, 2]`), or `(absent)` for a missing key."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in list(old) + [k for k in new if k not in old]:
            sub = f"{path}.{key}" if path else str(key)
            out += spec_differences(old.get(key, _ABSENT), new.get(key, _ABSENT), sub)
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        out = []
        for i, (a, b) in enumerate(zip(old, new)):
            out += spec_differences(a, b, f"{path}[{i}]")
        return out
    if isinstance(old, list) and isinstance(new, list) and old and new:
        if all(isinstance(x, dict) for x in old + new):  # layers, callbacks
            return _entry_differences(old, new, path)
    if old != new:
        return [f"{path}: run has {_yaml_value(old)}, now {_yaml_value(new)}"]
    return []


def _entry_differences(old: list[dict], new: list[dict], path: str) -> list[str]:
    """Lists of entries of different lengths, matched by type as `nncli
    compare` matches them: an entry one side lacks is one difference (its
    type and options that are not defaults), the others option by option."""
    from nncli.runs import align, entry_options

    layers = path.endswith("layers")
    out = []
    for i, j in align([old, new]):
        if i is None or j is None:
            entry = entry_options(old[i] if j is None else new[j], layers)
            text = _yaml_value(entry, sort_keys=False)  # type first
            a, b = (text, "(absent)") if j is None else ("(absent)", text)
            out.append(f"{path}[{i if j is None else j}]: run has {a}, now {b}")
        else:
            sub = f"{path}[{i}]" if i == j else f"{path}[{i}→{j}]"
            out += spec_differences(old[i], new[j], sub)
    return out


def _yaml_value(value: Any, sort_keys: bool = True) -> str:
    """`value` on one line as YAML writes it (flow style)."""
    import yaml

    if value is _ABSENT:
        return "(absent)"
    text = yaml.safe_dump(
        value, default_flow_style=True, width=1_000_000, sort_keys=sort_keys
    )
    return text.removesuffix("\n").removesuffix("\n...").strip()


def data_file_hashes(resolved: dict[str, Any], spec_dir: Path) -> dict[str, str]:
    """sha256 of every data file the spec reads, by absolute path."""
    import hashlib

    out = {}
    for key in ("train", "x", "y", "validation"):
        text = resolved["data"].get(key)
        if not text:
            continue
        path = Path(text).expanduser()
        path = (path if path.is_absolute() else spec_dir / path).resolve()
        digest = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        out[str(path)] = digest.hexdigest()
    return out


def dataset_hash(ds: Any) -> str:
    """sha256 of a split's arrays as the model sees them (after preprocessing)."""
    import hashlib

    digest = hashlib.sha256()
    weights = getattr(ds, "weights", None)
    for arr in (ds.x, ds.y) + (() if weights is None else (weights,)):
        a = np.ascontiguousarray(arr)
        digest.update(f"{a.dtype.str}{a.shape}".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def split_hashes(splits: Any) -> dict[str, str]:
    """dataset_hash of the training and (if any) validation split, by role."""
    return {
        role: dataset_hash(ds)
        for role, ds in (("training", splits.train), ("validation", splits.validation))
        if ds is not None
    }


def versions() -> dict[str, str]:
    return {
        "nncli": nncli.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _best(
    rows: list[dict[str, float]], directions: dict[str, str] | None = None
) -> dict[str, dict[str, float]]:
    """Best value and epoch of each logged column, in the metric's own direction
    (`directions`: metric -> up/down; a loss, or a name nobody declared that
    ends in loss/error, goes down)."""
    directions = directions or {}
    best: dict[str, dict[str, float]] = {}
    for key in rows[0] if rows else []:
        if key in ("epoch", "seconds", "learning_rate"):
            continue
        name = key.removeprefix("val_")
        lower = (
            directions[name] == "down"
            if name in directions
            else key.endswith(("loss", "error"))
        )
        vals = [(r[key], r["epoch"]) for r in rows if math.isfinite(r[key])]
        if vals:
            v, e = (min if lower else max)(vals)
            best[key] = {"value": v, "epoch": e}
    return best


def _directions(session: Session) -> dict[str, str]:
    from nncli.train.callbacks import metric_directions

    return metric_directions(session.make_metrics())


def train(
    session: Session,
    runs_dir: Path,
    reporter: Reporter,
    argv: list[str] | None = None,
    resume: Path | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Train and write the run directory; returns (run_dir, summary).

    With `resume` (a run directory whose spec the session was built from),
    training continues from that run's last checkpoint in the same directory.

    Raises DivergedError after saving what was good, Interrupted (exit 130, or
    143 for SIGTERM) after the summary says `interrupted`, and RunError when a
    file cannot be written (the summary then says `failed`, if it can).
    """
    r, model, splits = session.resolved, session.model, session.splits
    for w in session.warnings:
        reporter.warn(w)
    for note in getattr(splits, "notes", []):
        reporter.info(note)
    train_b, val_b, shuffle_rng = make_batches(session)
    cbs = make_callbacks(session)
    signals = DeferredSignals()
    record: _Record | None = None
    stopped: str | None = None
    out_of_time = False  # stopped by max_time
    with signals.installed(), contextlib.ExitStack() as held:
        try:
            with signals.deferred():  # a run directory is set up whole or not at all
                if resume is None:
                    initial = checkpoint.capture(model, 0, shuffle_rng, cbs)
                    record = _Record.create(
                        session, runs_dir, argv, train_b, val_b, initial
                    )
                else:
                    record = _Record.reopen(resume, session, argv, shuffle_rng, cbs)
                held.callback(record.close)
            start = record.epochs
            stopped = record.stopped  # a resumed run that had stopped: finish it
            if resume is None:
                reporter.info(f"run directory: {record.dir}")
            else:
                reporter.info(f"resuming {record.dir} after epoch {start}")
            if r["model"].get("init_weights") and resume is None:
                reporter.info(f"starting from weights {r['model']['init_weights']}")
            reporter.start(r["epochs"], len(train_b), start)
            budget = Budget(r.get("max_time"))
            end = start if stopped else r["epochs"]
            for event in train_epochs(
                model, train_b, val_b, session.make_metrics, end, start
            ):
                signals.check()  # in case Python swallowed the interrupt
                if isinstance(event, StepEvent):
                    reporter.step(event)
                    if budget.exceeded():  # the partial epoch is not recorded
                        stopped, out_of_time = _out_of_time(r, record, event), True
                        break
                    continue
                if isinstance(event, DivergedEvent):
                    raise DivergedError(
                        _diverged(
                            session, train_b, val_b, shuffle_rng, cbs, record, event
                        )
                    )
                decisions = [
                    cb.on_epoch_end(event.epoch, event.logs, model) for cb in cbs
                ]
                for d in decisions:
                    if d.learning_rate is not None:
                        model.optimizer.learning_rate = d.learning_rate
                    for message in d.messages:
                        reporter.info(message)
                stop = next((d.stop for d in decisions if d.stop), None)
                state = checkpoint.capture(
                    model,
                    event.epoch,
                    shuffle_rng,
                    cbs,
                    {"stopped": stop} if stop else None,
                )
                names = list(dict.fromkeys(n for d in decisions for n in d.save))
                # weights, metrics and summary describe the same epoch, so a
                # signal arriving meanwhile waits until all three are written
                with signals.deferred():
                    record.save_epoch(event, state, names)
                reporter.epoch(event)
                if event.epoch == 1:
                    for w in dead_units(session):
                        reporter.warn(w)
                        record.summary["warnings"].append(w)
                stopped = next((d.stop for d in decisions if d.stop), None)
                if stopped:
                    reporter.info(stopped)
                    break
                if budget.exceeded() and event.epoch < r["epochs"]:
                    stopped, out_of_time = _out_of_time(r, record, None), True
                    break
        except BaseException as e:
            signals.mute()  # a second Ctrl-C must not cut the summary short
            reporter.stop()
            if record is None:
                raise
            err = record.fail(e)
            if err is e:
                raise
            raise err from None
        finally:
            reporter.stop()
        if out_of_time:
            reporter.warn(stopped)
        try:
            with signals.deferred():
                restore_best(record, model, cbs, reporter)
                record.finish(
                    "stopped" if out_of_time else "completed", stopped=stopped
                )
        except RunError as e:  # the last writes failed: say so, if the disk lets us
            record.fail(e)
            raise
    return record.dir, record.summary


def _out_of_time(r: dict[str, Any], record: _Record, event: StepEvent | None) -> str:
    """Why training stopped on its wall-clock budget, and how to go on."""
    where = (
        f"in epoch {event.epoch} (batch {event.step} of {event.steps}, not kept)"
        if event is not None
        else f"after epoch {record.epochs}"
    )
    return (
        f"max_time of {r['max_time']:g} s reached {where}; the run holds "
        f"{record.epochs} of {r['epochs']} epochs; continue with: "
        f"nncli train --resume {record.dir}"
    )


def smoke(session: Session) -> dict[str, float]:
    """One training and one validation batch through the real code path; writes
    nothing. Raises DivergedError when a loss is not finite."""
    train_b, val_b, _ = make_batches(session)
    logs = smoke_steps(session.model, train_b, val_b, session.make_metrics)
    bad = [k for k in ("loss", "val_loss") if k in logs and not math.isfinite(logs[k])]
    if bad:
        which = "training" if bad[0] == "loss" else "validation"
        raise DivergedError(
            f"smoke test: the {bad[0]} of the first {which} batch is "
            f"{logs[bad[0]]}; check the scale of the data, the loss and the "
            "initial weights"
        )
    return logs


def make_batches(session: Session) -> tuple[Any, Any, np.random.Generator]:
    """Training and validation batches, and the generator of the shuffle order."""
    from nncli.data.batches import Batches

    r, splits = session.resolved, session.splits
    shuffle_rng = np.random.default_rng(np.random.SeedSequence(r["seed"]).spawn(2)[1])
    train_b = Batches(
        splits.train.x,
        splits.train.y,
        r["batch_size"],
        session.backend,
        shuffle=r["shuffle"],
        rng=shuffle_rng,
        weights=splits.train.weights,
    )
    val_b = None
    if splits.validation is not None:
        val = splits.validation
        val_b = Batches(
            val.x, val.y, r["batch_size"], session.backend, weights=val.weights
        )
    return train_b, val_b, shuffle_rng


def make_callbacks(session: Session) -> list[Any]:
    """The spec's callbacks, told which way each metric should go."""
    from nncli.train.callbacks import callbacks, metric_directions

    cbs = [callbacks.create(cfg) for cfg in session.resolved.get("callbacks", [])]
    directions = metric_directions(session.make_metrics())
    for cb in cbs:
        cb.bind(directions)
    return cbs


def restore_best(
    record: _Record, model: Any, cbs: list[Any], reporter: Reporter
) -> None:
    """Keras's restore_best_weights: the final weights are the best epoch's."""
    for cb in cbs:
        best = getattr(cb, "final_weights", lambda: None)()
        if best is not None and best[0] != record.epochs:
            epoch, weights = best
            model.network.set_weights(weights, source="best weights")
            record.restore_weights(epoch, weights)
            reporter.info(f"restored the weights of epoch {epoch} (best {cb.monitor})")


class _Record:
    """The run directory of one training and what has been written to it."""

    # One metadata key only: safetensors writes its metadata map in hash order,
    # so two keys would make identical weights give different file bytes.
    META = {"nncli": f"format=1 version={nncli.__version__}"}

    # Files are brought up to date at most this often (and always when training
    # stops): three fsyncs per epoch would dominate runs of tiny epochs.
    FLUSH_SECONDS = 1.0

    def __init__(self, run_dir: Path, summary: dict[str, Any]) -> None:
        self.dir, self.summary = run_dir, summary
        self.writer = artifacts.RunWriter(run_dir)
        self.rows: list[dict[str, float]] = []  # every finished epoch
        self.pending: list[dict[str, float]] = []  # finished, not yet on disk
        self.saved = 0  # epochs whose weights and metrics are on disk
        self.stopped: str | None = None  # why a resumed run had stopped training
        # the whole training state after the last finished epoch (host copies)
        self.state: checkpoint.TrainingState | None = None
        self.started = time.time()
        self.flushed = time.monotonic()

    @property
    def epochs(self) -> int:
        return len(self.rows)

    @classmethod
    def create(
        cls,
        session: Session,
        runs_dir: Path,
        argv: list[str] | None,
        train_b: Any,
        val_b: Any,
        initial: checkpoint.TrainingState,
    ) -> _Record:
        """Claim the directory and write spec, preprocessing, the initial weights,
        their checkpoint and the summary, so even a run that stops in epoch 1 is
        complete (and can be resumed)."""
        r, backend = session.resolved, session.backend
        run_dir = artifacts.create_run_dir(runs_dir, r["name"])
        summary: dict[str, Any] = {
            "status": "running",
            "name": r["name"],
            "run_dir": str(run_dir.resolve()),
            "spec_file": str(session.spec_path.resolve()),
            "command": argv or sys.argv,
            "seed": r["seed"],
            "epochs": r["epochs"],
            "epochs_run": 0,
            "train_samples": train_b.n_samples,
            "validation_samples": val_b.n_samples if val_b else 0,
            "metric_kinds": {k: m.name for k, m in session.make_metrics().items()},
            "metric_directions": _directions(session),
            "data_sources": session.splits.sources,
            "data_files": data_file_hashes(r, session.spec_path.resolve().parent),
            "data_sha256": split_hashes(session.splits),
            "init_weights": r["model"].get("init_weights"),
            "backend": backend.name,
            "device": backend.device,
            "dtype": r["dtype"],
            "versions": versions(),
            "warnings": list(session.warnings),
            "started": _iso(time.time()),
        }
        record = cls(run_dir, summary)
        record.state = initial
        w = record.writer
        try:
            w.write_spec(with_absolute_paths(r, session.spec_path.resolve().parent))
            w.write_preprocessing(session.splits.prep.to_json())
            w.write_split(session.splits)
            w.write_weights(initial.weights, cls.META)
            w.commit(
                w.stage(artifacts.CHECKPOINT, checkpoint.to_bytes(initial)),
                artifacts.CHECKPOINT,
            )
            w.write_summary(summary)
        except BaseException:
            record.close()
            shutil.rmtree(run_dir, ignore_errors=True)  # no half-made run directory
            raise
        return record

    @classmethod
    def reopen(
        cls,
        run_dir: Path,
        session: Session,
        argv: list[str] | None,
        shuffle_rng: np.random.Generator,
        cbs: list[Any],
    ) -> _Record:
        """Continue a run: restore its checkpoint into the session's model and
        cut metrics.csv back to the checkpoint's epoch."""
        reader = artifacts.RunReader(run_dir)
        summary = reader.summary()
        try:
            state = checkpoint.from_bytes(reader.checkpoint())
            checkpoint.restore(state, session.model, shuffle_rng, cbs)
        except ValueError as e:
            raise RunError(f"cannot resume {run_dir}: {e}") from e
        epochs = session.resolved["epochs"]
        # a run that trained to its end but failed to finish (say, its final
        # summary hit a full disk) is finished now, without more training
        done = summary.get("status") == "completed"
        if state.epoch > epochs:  # the spec (say, --set epochs=N) asks for fewer
            raise SpecError(
                f"cannot resume {run_dir}: it has finished {state.epoch} epochs, "
                f"more than the {epochs} the spec asks for; train longer with "
                f"--set epochs=N (N > {state.epoch})"
            )
        if state.epoch == epochs and done:
            raise NothingToResume(
                f"nothing to resume: {run_dir} has finished all {epochs} epochs; "
                "train longer with --set epochs=N",
                run_dir,
                summary,
            )
        changes = resume_changes(reader, session)
        if done and not changes.spec and not changes.data:  # a callback ended it
            why = summary.get("stopped") or "stopped by a callback"
            raise NothingToResume(
                f"nothing to resume: {run_dir} completed at epoch {state.epoch} "
                f"({why}); change the spec (say, the callback) to train on, or "
                f"start a new run from its weights with --from {run_dir}",
                run_dir,
                summary,
            )
        rows = reader.metrics()
        if len(rows) < state.epoch:
            raise RunError(
                f"cannot resume {run_dir}: metrics.csv has {len(rows)} rows, the "
                f"checkpoint is at epoch {state.epoch}"
            )
        columns = list(rows[0]) if rows else []
        try:
            kept = [
                {k: _number(v) for k, v in row.items()} for row in rows[: state.epoch]
            ]
        except (TypeError, ValueError) as e:
            raise RunError(f"cannot resume {run_dir}: metrics.csv is damaged") from e
        record = cls(run_dir, summary)
        record.rows, record.saved, record.state = kept, state.epoch, state
        record.stopped = None if done else state.info.get("stopped")
        try:
            if len(rows) != state.epoch:  # epochs written after the checkpoint
                record.writer.rewrite_metrics(columns, kept)
            else:
                record.writer.columns = columns
        except BaseException:
            record.close()
            raise
        summary.update(
            status="running",
            epochs=epochs,
            epochs_run=state.epoch,
            data_files=changes.data_files,
            data_sha256=changes.data_sha256,
        )
        summary.setdefault("resumed", []).append(
            {
                "after_epoch": state.epoch,
                "command": argv or sys.argv,
                "at": _iso(time.time()),
                "versions": versions(),
                "changes": changes.spec + changes.data,
            }
        )
        for key in (
            "finished",
            "message",
            "stopped",
            "restored_weights_of_epoch",  # the end of this training decides
            "restored_metrics",
        ):
            summary.pop(key, None)
        if "summary" in state.info:  # as of the checkpoint's epoch
            summary.pop("checkpoints", None)
            summary.update(state.info["summary"])
        try:
            # the spec this training uses (say, more epochs) becomes the run's,
            # so a later plain --resume goes on to the same end
            record.writer.write_spec(changes.resolved)
            record.writer.write_summary(summary)
        except BaseException:
            record.close()
            raise
        return record

    def close(self) -> None:
        """Let go of the run directory (its lock)."""
        self.writer.close()

    def save_epoch(
        self,
        event: EpochEvent,
        state: checkpoint.TrainingState,
        names: list[str] = (),
    ) -> None:
        """Keep a finished epoch for the next flush, after writing the
        model_checkpoint files `names` (the loop has checked the losses and
        weights: a non-finite one ends in a DivergedEvent, not here)."""
        row = {"epoch": event.epoch, **event.logs}
        for name in names:  # before any checkpoint that counts them as written
            self.save_named(name, event.epoch, state.weights)
        self.state = state  # host copies: later steps do not change them
        self.rows.append(row)
        self.pending.append(row)
        if len(self.rows) == 1 or time.monotonic() - self.flushed >= self.FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Bring weights, metrics and summary up to the last finished epoch.

        The weights are staged first and renamed into place only after the
        metrics rows are written, so a failing disk leaves all three at the
        same (earlier) epoch.
        """
        if not self.pending:
            return
        # what the summary gathers as training goes: resume restores it from
        # the checkpoint, since summary.json may be an epoch behind
        self.state.info["summary"] = {
            k: self.summary[k] for k in ("checkpoints", "warnings") if k in self.summary
        }
        staged = [self.writer.stage_weights(self.state.weights, self.META)]
        try:
            staged.append(
                self.writer.stage(artifacts.CHECKPOINT, checkpoint.to_bytes(self.state))
            )
            size = self.writer.append_metrics(self.pending)
        except BaseException:
            for path in staged:
                artifacts.discard(path)
            raise
        # weights first: a crash between the two renames leaves the checkpoint
        # one epoch behind, and resume goes back to it (dropping that row)
        try:
            self.writer.commit_weights(staged[0])
        except BaseException:  # the rows would describe weights not on disk
            artifacts.discard(staged[1])
            self.writer.unappend_metrics(size)
            raise
        self.saved, self.pending = len(self.rows), []  # rows and weights written
        self.writer.commit(staged[1], artifacts.CHECKPOINT)
        self.summary.update(epochs_run=self.saved, final=self.rows[-1])
        self.writer.write_summary(self.summary)
        self.flushed = time.monotonic()

    def kept(self) -> str:
        """Which weights the run directory keeps, and where it is (with
        --quiet or --json the error line is the only place that says so)."""
        what = (
            f"weights of epoch {self.epochs}" if self.epochs else "the initial weights"
        )
        return f"{what} kept in {self.dir}"

    def save_named(self, name: str, epoch: int, weights: dict[str, np.ndarray]) -> None:
        """A model_checkpoint save: checkpoints/<name>.safetensors."""
        path = self.writer.write_named_weights(name, weights, self.META)
        self.summary.setdefault("checkpoints", {})[name] = {
            "file": str(path.relative_to(self.dir)),
            "epoch": epoch,
        }

    def restore_weights(self, epoch: int, weights: dict[str, np.ndarray]) -> None:
        """Make `weights` (of an earlier epoch) the run's final weights."""
        self.flush()
        self.writer.write_weights(weights, self.META)
        # "final" stays the last epoch's row (what metrics.csv ends with);
        # these say what the weights on disk scored
        self.summary["restored_weights_of_epoch"] = epoch
        self.summary["restored_metrics"] = next(
            (row for row in self.rows if row.get("epoch") == epoch), {}
        )

    def finish(
        self, status: str, message: str | None = None, stopped: str | None = None
    ) -> None:
        """Flush, then write the final summary (of what is on disk)."""
        self.flush()
        if stopped:
            self.summary["stopped"] = stopped
        self._final_summary(status, message)

    def _final_summary(self, status: str, message: str | None) -> None:
        rows = self.rows[: self.saved]
        self.summary.update(
            status=status,
            epochs_run=len(rows),
            wall_seconds=time.time() - self.started,
            finished=_iso(time.time()),
            final=rows[-1] if rows else {},
            best=_best(rows, self.summary.get("metric_directions")),
        )
        if message:
            self.summary["message"] = message
        self.writer.write_summary(self.summary)

    def fail(self, e: BaseException) -> BaseException:
        """Record why the run stopped; return the error the caller should raise."""
        with contextlib.suppress(OSError, RunError):
            self.flush()  # finished epochs are worth keeping
        if isinstance(e, KeyboardInterrupt | Terminated):
            msg = (
                f"interrupted after {self.saved} complete epoch(s); saved in {self.dir}"
            )
            status = "interrupted"
            err: BaseException = Interrupted(
                msg, EXIT_TERMINATED if isinstance(e, Terminated) else EXIT_INTERRUPTED
            )
        elif isinstance(e, DivergedError):
            msg, status, err = str(e), "diverged", e
        elif isinstance(e, MemoryError):
            msg = f"out of memory in epoch {len(self.rows) + 1}; {self.kept()}"
            status, err = "failed", RunError(msg)
        else:
            msg, status, err = str(e) or type(e).__name__, "failed", e
        # the disk that failed may fail again; the error itself then says why
        with contextlib.suppress(OSError, RunError):
            self._final_summary(status, msg)
        return err


def _number(text: str) -> float | int:
    """A metrics.csv cell back as the number that was written (repr round-trips)."""
    try:
        return int(text)
    except ValueError:
        return float(text)


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(t))


def _diverged(
    session: Session,
    train_b: Any,
    val_b: Any,
    shuffle_rng: Any,
    cbs: list[Any],
    record: _Record,
    event: DivergedEvent,
) -> str:
    """The one-line diagnosis of a divergence: when, what went non-finite,
    where it began (a replay of the epoch, or a look at the validation
    batches), the last finite loss, the gradient norms and what was kept."""
    from nncli.train.diagnose import describe_norms, grad_norms

    last = f"{event.last_finite:.6g}" if event.last_finite is not None else "none"
    advice = "try a lower optimizer.learning_rate or check the scale of the data"
    if event.kind == "val_loss":
        return _diverged_validation(session, val_b, record, event, advice)
    norms = grad_norms(session.model.network)  # the failing step's, before a replay
    finding = _diagnose(session, train_b, shuffle_rng, cbs, record, event)
    where = (
        f"; {finding.describe()}"
        if finding is not None
        else describe_norms(norms, "gradient norms of that batch")
    )
    if event.kind == "weights":
        what = (
            f"{event.name} became non-finite in epoch {event.epoch} (found after "
            f"its last batch, {event.step}; every batch loss was finite, the last "
            f"{last})"
        )
    else:
        what = (
            f"the loss became {event.value} at epoch {event.epoch}, batch "
            f"{event.step} (last finite batch loss {last})"
        )
    return f"training diverged: {what}{where}; {record.kept()}; {advice}"


def _diverged_validation(
    session: Session, val_b: Any, record: _Record, event: DivergedEvent, advice: str
) -> str:
    """The diagnosis when only the validation loss went non-finite."""
    from nncli.train.diagnose import validation

    try:
        finding = validation(session.model, val_b, event.epoch)
    except Exception:  # a diagnosis must never hide the divergence itself
        finding = None
    finite = [r for r in record.rows if math.isfinite(r.get("val_loss", math.nan))]
    before = (
        f"last finite val_loss {finite[-1]['val_loss']:.6g} at epoch "
        f"{finite[-1]['epoch']}"
        if finite
        else "no finite val_loss before"
    )
    where = f"; {finding.describe()}" if finding is not None else ""
    return (
        f"training diverged: the validation loss (val_loss) became {event.value} "
        f"at epoch {event.epoch} while the training loss was finite "
        f"({event.logs['loss']:.6g}; {before}; learning rate now "
        f"{event.logs['learning_rate']:.6g}){where}; {record.kept()}; {advice}"
    )


def _diagnose(
    session: Session,
    train_b: Any,
    shuffle_rng: Any,
    cbs: list[Any],
    record: Any,
    event: DivergedEvent,
) -> Any:
    """Replay the failing epoch from the last checkpoint to find where it broke
    (None when the replay itself fails or finds nothing)."""
    from nncli.train.diagnose import replay

    try:
        return replay(
            session.model,
            train_b,
            shuffle_rng,
            record.state,
            cbs,
            event.epoch,
            event.step,
        )
    except Exception:  # a diagnosis must never hide the divergence itself
        return None


def dead_units(session: Session, max_samples: int = 2048) -> list[str]:
    """Warnings for relu layers whose units output zero on every training sample."""
    x = session.splits.train.x[:max_samples]
    net = session.model.network
    h = session.backend.asarray(x)
    out = []
    for i, layer in enumerate(net.layers):
        h, _ = layer.forward(h, training=False)
        if getattr(layer, "activation_name", None) != "relu":
            continue
        flat = session.backend.to_numpy(h).reshape(len(x), -1)
        units = flat.shape[1]
        # a few dead units are normal in a relu net; a whole dead layer is not
        if int((flat.max(axis=0) <= 0).sum()) == units:
            out.append(
                f"layer {i} ({layer.get_config()['type']}, relu, {units} units): "
                f"{units} of {units} units output zero for every training sample; "
                "no gradient flows through it and the model output is constant "
                "(check bias_initializer, the input scale or the learning rate)"
            )
    return out
