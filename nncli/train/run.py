"""run(): spec -> data -> network -> training loop -> run directory.

This is what `nncli train` calls; tests and notebooks can call it too.
Everything that can be checked is checked before the run directory exists, so
a bad spec or bad data leaves nothing behind.
"""

from __future__ import annotations

import math
import platform
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import nncli
from nncli import artifacts
from nncli.errors import DataError, DivergedError, Interrupted, RunError, SpecError
from nncli.report import Reporter
from nncli.train.loop import DivergedEvent, EpochEvent, StepEvent, train_epochs


class Terminated(BaseException):
    """SIGTERM arrived; handled like Ctrl-C but exits 143."""


@dataclass
class Session:
    """Everything built from a spec, before anything is written."""

    spec: Any  # the validated RunSpec
    resolved: dict[str, Any]
    spec_path: Path
    backend: Any
    model: Any
    splits: Any
    units: int
    target_kind: str
    warnings: list[str] = field(default_factory=list)

    def make_metrics(self) -> dict[str, Any]:
        from nncli.engine.metrics import build_metrics

        return build_metrics(self.resolved["metrics"], self.target_kind, self.units)


def prepare(spec_path: Path, overrides: list[str] = (), init_weights: Path | None = None,
            load_data: bool = True) -> Session:
    """Validate the spec, build the model and load the data; write nothing."""
    from nncli.spec.load import apply_override, locate, read_spec, validate

    spec_path = Path(spec_path)
    src = read_spec(spec_path)
    for text in overrides:
        apply_override(src, text)
    spec = validate(src)
    resolved = spec.model_dump(mode="json")
    resolved["name"] = resolved["name"] or spec_path.stem
    spec_dir = spec_path.resolve().parent
    if init_weights is not None:
        resolved["model"]["init_weights"] = str(Path(init_weights).resolve())
        src.overrides["model.init_weights"] = f"--init-weights {init_weights}"
    try:
        session = build_session(spec, resolved, spec_path, spec_dir)
    except SpecError as e:  # checks on the built model: cite the spec's lines
        raise SpecError([locate(src, i) for i in e.issues]) from e
    if load_data:
        attach_data(session, spec_dir)
    return session


def build_session(spec: Any, resolved: dict[str, Any], spec_path: Path,
                  spec_dir: Path) -> Session:
    """Backend, network, loss and optimizer from a resolved spec."""
    from nncli.engine.backend import Backend
    from nncli.engine.losses import losses
    from nncli.engine.network import LayerBuildError, Model, Sequential
    from nncli.engine.optimizers import optimizers

    backend = Backend.from_name(resolved["backend"], resolved["dtype"])
    network = Sequential.from_config(resolved["model"]["layers"])
    init_rng = np.random.default_rng(np.random.SeedSequence(resolved["seed"]).spawn(1)[0])
    try:
        shape = network.build(tuple(resolved["model"]["input_shape"]), backend, init_rng)
    except LayerBuildError as e:
        raise SpecError(str(e), f"model.layers[{e.index}]") from e
    for i, name in network.initial_problems():
        raise SpecError(f"the initial {name} is not finite in {resolved['dtype']}; "
                        f"check {name}_initializer", f"model.layers[{i}]")
    loss = losses.create(resolved["loss"])
    _check_head(network, loss, int(shape[-1]))
    model = Model(network, loss, optimizers.create(resolved["optimizer"]))
    _load_init_weights(network, resolved["model"].get("init_weights"), spec_dir)
    session = Session(spec, resolved, spec_path, backend, model, None,
                      units=int(shape[-1]), target_kind=loss.target_kind)
    session.warnings += _spec_warnings(session)
    return session


def _check_head(network: Any, loss: Any, units: int) -> None:
    """Refuse output/loss pairs that cannot learn, whatever the data (CASE-004b)."""
    act = getattr(network.layers[-1], "activation_name", None)
    if act == "softmax" and units == 1:
        last = len(network.layers) - 1
        raise SpecError(
            "a softmax over 1 unit always outputs 1.0, so the loss cannot change and "
            "nothing is learned; use activation: sigmoid with binary_crossentropy, or "
            "2 softmax units", f"model.layers[{last}]")


def _load_init_weights(network: Any, path_text: str | None, spec_dir: Path) -> None:
    if not path_text:
        return
    path = Path(path_text)
    if not path.is_absolute():
        path = spec_dir / path
    from nncli.errors import RunError

    try:
        weights = artifacts.read_weights(path)
        network.set_weights(weights, source=str(path))
    except (RunError, ValueError) as e:
        raise SpecError(str(e), "model.init_weights") from e
    for name, p in network.params().items():
        if not np.isfinite(network.backend.to_numpy(p)).all():
            raise SpecError(f"{path}: {name} holds NaN or infinite values",
                            "model.init_weights")


def _spec_warnings(session: Session) -> list[str]:
    out = []
    loss_type = session.resolved["loss"]["type"]
    last = session.model.network.layers[-1]
    act = getattr(last, "activation_name", None)
    if loss_type == "binary_crossentropy" and act == "softmax" and session.units > 1:
        out.append(f"binary_crossentropy on a {session.units}-unit softmax output: this is "
                   "probably meant to be categorical_crossentropy (one-hot targets) or "
                   "sparse_categorical_crossentropy (integer labels)")
    return out


def attach_data(session: Session, spec_dir: Path) -> None:
    """Load and check the data against the loss and the output layer."""
    from nncli.data.checks import check_targets
    from nncli.data.sources import load_data

    r = session.resolved
    try:
        splits = load_data(r["data"], spec_dir, r["seed"], tuple(r["model"]["input_shape"]))
    except MemoryError:
        raise DataError("not enough memory to load the data") from None
    last = session.model.network.layers[-1]
    act = getattr(last, "activation_name", "linear")
    args = (session.target_kind, session.units, act, r["loss"]["type"])
    splits.train = check_targets(splits.train, *args)
    if splits.validation is not None:
        splits.validation = check_targets(splits.validation, *args)
    for ds in (splits.train, splits.validation):
        if ds is not None:
            check_fits(ds, session.backend.dtype, splits.prep.feature_names)
    session.splits = splits


def check_fits(ds: Any, dtype: Any, feature_names: list[str] | None) -> None:
    """Refuse values the model's float type cannot hold (1e39 is inf in float32)."""
    limit = np.finfo(dtype).max
    for what, arr in (("feature", ds.x), ("target", ds.y)):
        if not np.issubdtype(arr.dtype, np.floating):
            continue
        flat = arr.reshape(len(arr), -1)
        bad = np.argwhere(~(np.abs(flat) <= limit))
        if len(bad):
            i, j = bad[0]
            col = (f" {feature_names[j]!r}" if what == "feature" and feature_names
                   and j < len(feature_names) else f" {j + 1}")
            raise DataError(
                f"{ds.role} data {getattr(ds, 'name', ds.origin)}: row {ds.rows[i]}, "
                f"{what}{col} = {flat[i, j]:g} does not fit in {np.dtype(dtype).name} "
                f"(largest {limit:.3g}); rescale the data or set data.standardize: true")


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
    return {"nncli": nncli.__version__, "numpy": np.__version__,
            "python": platform.python_version(), "platform": platform.platform()}


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


def train(session: Session, runs_dir: Path, reporter: Reporter,
          argv: list[str] | None = None) -> tuple[Path, dict[str, Any]]:
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
    train_b = Batches(splits.train.x, splits.train.y, r["batch_size"], session.backend,
                      shuffle=r["shuffle"], rng=shuffle_rng)
    val_b = None
    if splits.validation is not None:
        val_b = Batches(splits.validation.x, splits.validation.y, r["batch_size"],
                        session.backend)
    signals = _DeferredSignals()
    record: _Record | None = None
    with signals.installed():
        try:
            with signals.deferred():  # a run directory is set up whole or not at all
                record = _Record.create(session, runs_dir, argv, train_b, val_b)
            reporter.info(f"run directory: {record.dir}")
            if r["model"].get("init_weights"):
                reporter.info(f"starting from weights {r['model']['init_weights']}")
            reporter.start(r["epochs"], len(train_b))
            for event in train_epochs(model, train_b, val_b, session.make_metrics,
                                      r["epochs"]):
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

    def __init__(self, run_dir: Path, summary: dict[str, Any]) -> None:
        self.dir, self.summary = run_dir, summary
        self.writer = artifacts.RunWriter(run_dir)
        self.rows: list[dict[str, float]] = []
        self.started = time.time()

    @property
    def epochs(self) -> int:
        return len(self.rows)

    @classmethod
    def create(cls, session: Session, runs_dir: Path, argv: list[str] | None,
               train_b: Any, val_b: Any) -> _Record:
        """Claim the directory and write spec, preprocessing, the initial weights
        and the summary, so even a run that stops in epoch 1 is complete."""
        r, backend = session.resolved, session.backend
        run_dir = artifacts.create_run_dir(runs_dir, r["name"])
        summary: dict[str, Any] = {
            "status": "running", "name": r["name"], "run_dir": str(run_dir.resolve()),
            "spec_file": str(session.spec_path.resolve()), "command": argv or sys.argv,
            "seed": r["seed"], "epochs": r["epochs"], "epochs_run": 0,
            "train_samples": train_b.n_samples,
            "validation_samples": val_b.n_samples if val_b else 0,
            "metric_kinds": {k: m.name for k, m in session.make_metrics().items()},
            "data_sources": session.splits.sources,
            "init_weights": r["model"].get("init_weights"),
            "backend": backend.name, "device": backend.device, "dtype": r["dtype"],
            "versions": versions(), "warnings": list(session.warnings),
            "started": _iso(time.time()),
        }
        record = cls(run_dir, summary)
        w = record.writer
        w.write_spec(with_absolute_paths(r, session.spec_path.resolve().parent))
        w.write_preprocessing(session.splits.prep.to_json())
        w.write_weights(session.model.network.get_weights(), cls.META)
        w.write_summary(summary)
        return record

    def save_epoch(self, model: Any, event: EpochEvent) -> None:
        """Weights, then the metrics row, then the summary; a non-finite loss or
        weight means divergence, and nothing of that epoch is saved."""
        row = {"epoch": event.epoch, **event.logs}
        bad = [k for k in ("loss", "val_loss") if k in row and not math.isfinite(row[k])]
        if bad:
            raise DivergedError(
                f"training diverged: {bad[0]} became {row[bad[0]]} at epoch "
                f"{event.epoch}; {self._kept()}; try a lower optimizer.learning_rate "
                "or check the scale of the data")
        weights = model.network.get_weights()
        broken = [k for k, v in weights.items() if not np.isfinite(v).all()]
        if broken:
            raise DivergedError(
                f"training diverged: {broken[0]} became non-finite in epoch "
                f"{event.epoch}; {self._kept()}; try a lower optimizer.learning_rate")
        self.writer.write_weights(weights, self.META)
        self.writer.append_metrics(row)
        self.rows.append(row)
        self.summary.update(epochs_run=len(self.rows), final=row)
        self.writer.write_summary(self.summary)

    def _kept(self) -> str:
        return (f"weights of epoch {self.epochs} kept" if self.epochs
                else "the initial weights kept")

    def finish(self, status: str, message: str | None = None) -> None:
        self.summary.update(status=status, epochs_run=len(self.rows),
                            wall_seconds=time.time() - self.started,
                            finished=_iso(time.time()),
                            final=self.rows[-1] if self.rows else {},
                            best=_best(self.rows))
        if message:
            self.summary["message"] = message
        self.writer.write_summary(self.summary)

    def fail(self, e: BaseException) -> BaseException:
        """Record why the run stopped; return the error the caller should raise."""
        if isinstance(e, KeyboardInterrupt | Terminated):
            msg = f"interrupted after {self.epochs} complete epoch(s); saved in {self.dir}"
            status = "interrupted"
            err: BaseException = Interrupted(
                msg, 143 if isinstance(e, Terminated) else 130)
        elif isinstance(e, DivergedError):
            msg, status, err = str(e), "diverged", e
        else:
            msg, status, err = str(e) or type(e).__name__, "failed", e
        try:
            self.finish(status, msg)
        except (OSError, RunError):
            pass  # the disk that failed may fail again; the error itself says why
        return err


class _DeferredSignals:
    """SIGINT -> KeyboardInterrupt and SIGTERM -> Terminated, held back inside
    `deferred()` blocks so a checkpoint is never half-updated."""

    def __init__(self) -> None:
        self.depth = 0
        self.muted = False
        self.pending: type[BaseException] | None = None

    def mute(self) -> None:
        """Ignore further signals (we are already stopping)."""
        self.muted, self.pending = True, None

    def _handler(self, signum: int, frame: Any) -> None:
        exc = Terminated if signum == signal.SIGTERM else KeyboardInterrupt
        if self.muted:
            return
        if self.depth:
            self.pending = self.pending or exc
            return
        raise exc()

    @contextmanager
    def installed(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # signals can only be handled in the main thread
            return
        old = {s: signal.signal(s, self._handler) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, handler in old.items():
                signal.signal(s, handler)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
        if not self.depth and self.pending is not None and not self.muted:
            exc, self.pending = self.pending, None
            raise exc()


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(t))


def _diverged_message(event: DivergedEvent, epochs_saved: int) -> str:
    last = f"{event.last_finite:.6g}" if event.last_finite is not None else "none"
    saved = (f"weights of epoch {epochs_saved} kept" if epochs_saved
             else "the initial weights kept")
    return (f"training diverged: loss became {event.value} at epoch {event.epoch}, "
            f"batch {event.step} (last finite batch loss {last}); {saved}; "
            "try a lower optimizer.learning_rate")


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
            out.append(f"layer {i} ({layer.get_config()['type']}, relu, {units} units): "
                       f"{units} of {units} units output zero for every training sample; "
                       "no gradient flows through it and the model output is constant "
                       "(check bias_initializer, the input scale or the learning rate)")
    return out
