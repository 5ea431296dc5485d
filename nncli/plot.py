"""Pictures of runs: the decision boundary over the data, and training curves.

`load_plot(run_dir)` gathers what is drawn, without matplotlib: the model's
class probabilities on a grid over a 2-D input space (`Field`), the data
points in the user's units (standardisation undone), and the metrics.csv
curves. `nncli.figures` draws it as PNG with matplotlib (the optional extra
`plot`); `nncli.termplot` draws the same data as text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nncli.errors import DataError, NncliError, RunError

PLOT = "plot.png"  # a run's picture, in its directory
EXTRA = "pip install 'nncli[plot]'"
GRID = 200  # boundary grid points per axis in a PNG
PAD = 0.08  # margin around the data, as a fraction of its range
CURVE_SKIP = ("epoch", "seconds", "learning_rate")


class PlotUnavailable(RunError):
    """matplotlib is not installed (exit 1); the message names the extra."""


@dataclass
class Points:
    """The run's data in input units: `x` (n, 2), class ids, validation flags."""

    x: np.ndarray  # (n, 2)
    label: np.ndarray  # (n,) int
    validation: np.ndarray  # (n,) bool


@dataclass
class Field:
    """Class probabilities of the model on a grid over two input features.

    `proba[i, j]` is the probability vector at (`xs[j]`, `ys[i]`): (k,) with
    k >= 2 classes (a sigmoid output p gives [1 - p, p]).
    """

    xs: np.ndarray  # (nx,)
    ys: np.ndarray  # (ny,)
    proba: np.ndarray  # (ny, nx, k)
    classes: list[str]
    feature_names: list[str]
    points: Points | None = None

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """Image edges (left, right, bottom, top): half a cell beyond the grid
        points, so each image cell is centred on the point it was computed at."""
        dx = (self.xs[-1] - self.xs[0]) / max(1, len(self.xs) - 1) / 2
        dy = (self.ys[-1] - self.ys[0]) / max(1, len(self.ys) - 1) / 2
        return (self.xs[0] - dx, self.xs[-1] + dx, self.ys[0] - dy, self.ys[-1] + dy)


@dataclass
class RunPlot:
    """Everything drawn for one run."""

    run_dir: Path
    title: str
    field: Field | None
    curves: dict[str, list[float]]  # column -> values per epoch; "epoch" too
    notes: list[str] = field(default_factory=list)  # what could not be drawn

    @property
    def name(self) -> str:
        return self.run_dir.name


class Model2D:
    """A run's model as a function of raw 2-D inputs -> class probabilities."""

    def __init__(self, run_dir: Path) -> None:
        from nncli.predict import Predictor

        self.pred = Predictor(run_dir)
        prep = self.pred.prep
        if prep.n_features != 2:
            raise _NoField(
                f"no decision boundary: the model has {prep.n_features} input "
                "features (a boundary map needs 2)"
            )
        if not self.pred.classifies:
            raise _NoField(
                "no decision boundary: the model does not predict one class per "
                "sample (regression or independent outputs)"
            )
        n = 2 if self.pred.units == 1 else self.pred.units
        self.classes = list(prep.classes or [str(i) for i in range(n)])

    def proba(self, x: np.ndarray) -> np.ndarray:
        """(n, 2) raw inputs -> (n, k) class probabilities, the run's
        preprocessing applied, in one pass per 4096 rows."""
        from nncli.train.loop import overflow_is_reported

        s, prep = self.pred.session, self.pred.prep
        out = []
        for start in range(0, len(x), 4096):
            xb = prep.apply(x[start : start + 4096].reshape(-1, *prep.input_shape))
            with overflow_is_reported():
                y = s.model.predict(s.backend.asarray(xb))
            out.append(s.backend.to_numpy(y).astype(np.float64).reshape(len(xb), -1))
        y = np.concatenate(out)  # (n, units)
        if self.pred.logits:
            y = self.pred.probabilities(y)
        if y.shape[1] == 1:
            p = np.clip(np.nan_to_num(y[:, 0], nan=0.5), 0.0, 1.0)  # (n,)
            return np.stack([1.0 - p, p], axis=1)  # (n, 2)
        return y

    def points(self) -> Points:
        """Training and validation samples in input units, with class ids."""
        from nncli.train.run import attach_data

        s, prep = self.pred.session, self.pred.prep
        attach_data(s, self.pred.run_dir)
        parts = [(s.splits.train, False), (s.splits.validation, True)]
        xs, labels, val = [], [], []
        for ds, is_val in parts:
            if ds is None:
                continue
            x = ds.x.reshape(len(ds.x), -1)  # (n, 2), standardised if asked
            if prep.standardize:
                x = x * prep.std + prep.mean
            xs.append(x)
            labels.append(self._ids(np.asarray(ds.y)))
            val.append(np.full(len(x), is_val))
        return Points(np.concatenate(xs), np.concatenate(labels), np.concatenate(val))

    def _ids(self, y: np.ndarray) -> np.ndarray:
        if y.ndim == 2 and y.shape[1] > 1:  # one-hot
            return y.argmax(axis=1)
        y = y.reshape(len(y))
        if self.pred.layout.kind == "binary":
            return (y > 0.5).astype(np.int64)
        return y.astype(np.int64)


class _NoField(Exception):
    """Why a run has no boundary map (said in the plot's notes)."""


def grid_limits(points: Points | None, prep: Any) -> tuple[tuple[float, float], ...]:
    """(x range, y range) around the data, or +-3 standard deviations."""
    if points is not None and len(points.x):
        lo, hi = points.x.min(axis=0), points.x.max(axis=0)
    elif prep.standardize:
        lo, hi = prep.mean - 3 * prep.std, prep.mean + 3 * prep.std
    else:
        lo, hi = np.full(2, -3.0), np.full(2, 3.0)
    span = np.where(hi > lo, hi - lo, 1.0)
    lo, hi = lo - PAD * span, hi + PAD * span
    return (float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1]))


def boundary(model: Model2D, nx: int, ny: int, points: Points | None) -> Field:
    """The model's class probabilities at nx x ny points over the data."""
    (x0, x1), (y0, y1) = grid_limits(points, model.pred.prep)
    xs, ys = np.linspace(x0, x1, nx), np.linspace(y0, y1, ny)
    gx, gy = np.meshgrid(xs, ys)  # (ny, nx) each
    flat = np.stack([gx.ravel(), gy.ravel()], axis=1)  # (ny * nx, 2)
    proba = model.proba(flat).reshape(ny, nx, -1)  # (ny, nx, k)
    names = model.pred.prep.feature_names or ["x1", "x2"]
    return Field(xs, ys, proba, model.classes, list(names), points)


def read_curves(run_dir: Path) -> dict[str, list[float]]:
    """metrics.csv as columns of floats (a row cut short is left out)."""
    from nncli.artifacts import RunReader

    cols: dict[str, list[float]] = {}
    for row in RunReader(run_dir).metrics():
        try:
            values = {k: float(v) for k, v in row.items()}
        except (TypeError, ValueError):
            continue
        for k, v in values.items():
            cols.setdefault(k, []).append(v)
    return cols


def load_plot(run_dir: Path, grid: int = GRID) -> RunPlot:
    """What `nncli plot` draws for one run: curves always, a boundary for a
    classifier of two input features (with the data when it can be read)."""
    from nncli.artifacts import RunReader

    run_dir = Path(run_dir)
    reader = RunReader(run_dir)
    curves = read_curves(run_dir)
    notes: list[str] = []
    if not curves.get("epoch"):
        notes.append("no finished epoch: no curves")
    try:
        model = Model2D(run_dir)
    except _NoField as e:
        return RunPlot(run_dir, _title(reader, curves), None, curves, [str(e)])
    points = None
    try:
        points = model.points()
    except DataError as e:  # data moved or changed: draw the model alone
        notes.append(f"data points left out: {e.lines()[0]}")
    ny = max(2, round(grid * 0.75))
    field = boundary(model, grid, ny, points)
    return RunPlot(run_dir, _title(reader, curves), field, curves, notes)


def _title(reader: Any, curves: dict[str, list[float]]) -> str:
    """Run name and its key metric's final value."""
    from nncli.runs import key_metric

    try:
        kinds = reader.summary().get("metric_kinds") or {}
    except NncliError:
        kinds = {}
    metric = key_metric([k for k in curves if k not in CURVE_SKIP], kinds)
    if metric is None or not curves.get(metric):
        return reader.dir.name
    return f"{reader.dir.name}\n{metric} {curves[metric][-1]:.4f}"


def curve_groups(curves: dict[str, list[float]]) -> list[tuple[str, list[str]]]:
    """[("loss", ["loss", "val_loss"]), ("metrics", [...])]: what each curve
    panel shows (the metrics panel only when there are metrics)."""
    losses = [c for c in ("loss", "val_loss") if c in curves]
    metrics = [
        c for c in curves if c not in CURVE_SKIP and c.removeprefix("val_") != "loss"
    ]
    groups = [("loss", losses)] if losses else []
    return groups + ([("metrics", metrics)] if metrics else [])


def have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def require_matplotlib() -> None:
    if not have_matplotlib():
        raise PlotUnavailable(
            f"PNG plots need matplotlib, which is not installed: {EXTRA}"
        )


def default_outputs(run_dirs: list[Path]) -> tuple[list[Path], Path | None]:
    """(each run's plot.png, the side-by-side file for several runs or None):
    `<parent of the first run>/compare-<first>-vs-<second>[-and-N-more].png`."""
    own = [Path(r) / PLOT for r in run_dirs]
    if len(run_dirs) < 2:
        return own, None
    names = [Path(r).resolve().name for r in run_dirs]
    stem = f"compare-{names[0]}-vs-{names[1]}"
    if len(names) > 2:
        stem += f"-and-{len(names) - 2}-more"
    first = Path(run_dirs[0])
    parent = first.parent if first.name else first.resolve().parent  # "." too
    return own, parent / f"{stem}.png"
