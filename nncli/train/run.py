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
from pathlib import Path
from typing import Any

import numpy as np

import nncli
from nncli import artifacts
from nncli.errors import DivergedError, Interrupted, RunError
from nncli.report import Reporter
from nncli.train.loop import DivergedEvent, EpochEvent, StepEvent, train_epochs
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


def versions() -> dict[str, str]:
    return {
        "nncli": nncli.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _best(rows: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    best: dict[str, dict[str, float]] = {}
    for key in rows[0] if rows else []:
        if key in ("epoch", "seconds", "learning_rate"):
            continue
        lower = key.endswith(("loss", "error"))
        vals = [(r[key], r["epoch"]) for r in rows if math.isfinite(r[key])]
        if vals:
            v, e = (min if lower else max)(vals)
            best[key] = {"value": v, "epoch": e}
    return best


def train(
    session: Session, runs_dir: Path, reporter: Reporter, argv: list[str] | None = None
) -> tuple[Path, dict[str, Any]]:
    """Train and write the run directory; returns (run_dir, summary).

    Raises DivergedError after saving what was good, Interrupted (exit 130, or
    143 for SIGTERM) after the summary says `interrupted`, and RunError when a
    file cannot be written (the summary then says `failed`, if it can).
    """
    from nncli.data.batches import Batches

    r, model, splits = session.resolved, session.model, session.splits
    for w in session.warnings:
        reporter.warn(w)
    for note in getattr(splits, "notes", []):
        reporter.info(note)
    shuffle_rng = np.random.default_rng(np.random.SeedSequence(r["seed"]).spawn(2)[1])
    train_b = Batches(
        splits.train.x,
        splits.train.y,
        r["batch_size"],
        session.backend,
        shuffle=r["shuffle"],
        rng=shuffle_rng,
    )
    val_b = None
    if splits.validation is not None:
        val_b = Batches(
            splits.validation.x, splits.validation.y, r["batch_size"], session.backend
        )
    signals = DeferredSignals()
    record: _Record | None = None
    with signals.installed():
        try:
            with signals.deferred():  # a run directory is set up whole or not at all
                record = _Record.create(session, runs_dir, argv, train_b, val_b)
            reporter.info(f"run directory: {record.dir}")
            if r["model"].get("init_weights"):
                reporter.info(f"starting from weights {r['model']['init_weights']}")
            reporter.start(r["epochs"], len(train_b))
            for event in train_epochs(
                model, train_b, val_b, session.make_metrics, r["epochs"]
            ):
                signals.check()  # in case Python swallowed the interrupt
                if isinstance(event, StepEvent):
                    reporter.step(event)
                elif isinstance(event, DivergedEvent):
                    raise DivergedError(_diverged_message(event, record.epochs))
                else:
                    # weights, metrics and summary describe the same epoch, so a
                    # signal arriving meanwhile waits until all three are written
                    with signals.deferred():
                        record.save_epoch(model, event)
                    reporter.epoch(event)
                    if event.epoch == 1:
                        for w in dead_units(session):
                            reporter.warn(w)
                            record.summary["warnings"].append(w)
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
    record.finish("completed")
    return record.dir, record.summary


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
        self.weights: dict[str, np.ndarray] | None = None  # last finished epoch's
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
    ) -> _Record:
        """Claim the directory and write spec, preprocessing, the initial weights
        and the summary, so even a run that stops in epoch 1 is complete."""
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
            "data_sources": session.splits.sources,
            "init_weights": r["model"].get("init_weights"),
            "backend": backend.name,
            "device": backend.device,
            "dtype": r["dtype"],
            "versions": versions(),
            "warnings": list(session.warnings),
            "started": _iso(time.time()),
        }
        record = cls(run_dir, summary)
        w = record.writer
        try:
            w.write_spec(with_absolute_paths(r, session.spec_path.resolve().parent))
            w.write_preprocessing(session.splits.prep.to_json())
            w.write_weights(session.model.network.get_weights(), cls.META)
            w.write_summary(summary)
        except BaseException:
            shutil.rmtree(run_dir, ignore_errors=True)  # no half-made run directory
            raise
        return record

    def save_epoch(self, model: Any, event: EpochEvent) -> None:
        """Keep a finished epoch for the next flush; a non-finite loss or weight
        means divergence, and nothing of that epoch is kept."""
        row = {"epoch": event.epoch, **event.logs}
        bad = [
            k for k in ("loss", "val_loss") if k in row and not math.isfinite(row[k])
        ]
        if bad:
            raise DivergedError(
                f"training diverged: {bad[0]} became {row[bad[0]]} at epoch "
                f"{event.epoch}; {self._kept()}; try a lower optimizer.learning_rate "
                "or check the scale of the data"
            )
        weights = model.network.get_weights()
        broken = [k for k, v in weights.items() if not np.isfinite(v).all()]
        if broken:
            raise DivergedError(
                f"training diverged: {broken[0]} became non-finite in epoch "
                f"{event.epoch}; {self._kept()}; try a lower optimizer.learning_rate"
            )
        self.weights = weights  # a host copy: later steps do not change it
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
        staged = self.writer.stage_weights(self.weights, self.META)
        try:
            self.writer.append_metrics(self.pending)
        except BaseException:
            artifacts.discard(staged)
            raise
        self.writer.commit_weights(staged)
        self.saved, self.pending = len(self.rows), []
        self.summary.update(epochs_run=self.saved, final=self.rows[-1])
        self.writer.write_summary(self.summary)
        self.flushed = time.monotonic()

    def _kept(self) -> str:
        return (
            f"weights of epoch {self.epochs} kept"
            if self.epochs
            else "the initial weights kept"
        )

    def finish(self, status: str, message: str | None = None) -> None:
        """Flush, then write the final summary (of what is on disk)."""
        self.flush()
        self._final_summary(status, message)

    def _final_summary(self, status: str, message: str | None) -> None:
        rows = self.rows[: self.saved]
        self.summary.update(
            status=status,
            epochs_run=len(rows),
            wall_seconds=time.time() - self.started,
            finished=_iso(time.time()),
            final=rows[-1] if rows else {},
            best=_best(rows),
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
                msg, 143 if isinstance(e, Terminated) else 130
            )
        elif isinstance(e, DivergedError):
            msg, status, err = str(e), "diverged", e
        elif isinstance(e, MemoryError):
            msg = f"out of memory in epoch {len(self.rows) + 1}; {self._kept()}"
            status, err = "failed", RunError(msg)
        else:
            msg, status, err = str(e) or type(e).__name__, "failed", e
        # the disk that failed may fail again; the error itself then says why
        with contextlib.suppress(OSError, RunError):
            self._final_summary(status, msg)
        return err


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(t))


def _diverged_message(event: DivergedEvent, epochs_saved: int) -> str:
    last = f"{event.last_finite:.6g}" if event.last_finite is not None else "none"
    saved = (
        f"weights of epoch {epochs_saved} kept"
        if epochs_saved
        else "the initial weights kept"
    )
    return (
        f"training diverged: loss became {event.value} at epoch {event.epoch}, "
        f"batch {event.step} (last finite batch loss {last}); {saved}; "
        "try a lower optimizer.learning_rate"
    )


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
