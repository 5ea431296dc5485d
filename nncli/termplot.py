"""The plots as text, for a terminal or a log: a coarse boundary map and
line charts of the training curves.

Every picture is built from characters that say it all without colour (a
pipe or a log file gets them plain); on a colour terminal the map's cells
also get a background shade of the class probability. Functions return rich
`Text` lines; the CLI prints them.
"""

from __future__ import annotations

import math
import textwrap
from typing import Any

import numpy as np

from nncli.plot import Field, RunPlot, curve_groups

REGION = " .:-=~"  # the predicted class of a map cell, by class index
POINT = "ox#@*%"  # a data point's true class, by class index
SERIES = "*o+x#@"  # a chart's series, in order
BLEND = [(33, 102, 172), (178, 24, 43), (27, 120, 55), (118, 42, 131)]


def boundary_map(
    field: Field, width: int, height: int, full_color: bool = True
) -> list[Any]:
    """`height` lines of `width` cells: each cell shows the class the model
    predicts at its centre (REGION), or the true class of a data point that
    falls in it (POINT; the last point drawn wins). Row 0 is the top."""
    from rich.text import Text

    f = field
    xs = np.linspace(f.xs[0], f.xs[-1], 2 * width + 1)[1::2]  # cell centres
    ys = np.linspace(f.ys[-1], f.ys[0], 2 * height + 1)[1::2]  # top first
    proba = sample(f, xs, ys)  # (height, width, k)
    top = proba.argmax(axis=2)
    cells = [[REGION[c % len(REGION)] for c in row] for row in top]
    if f.points is not None:
        col = _cell(f.points.x[:, 0], f.xs[0], f.xs[-1], width)
        row = _cell(f.points.x[:, 1], f.ys[-1], f.ys[0], height)  # flipped
        for r, c, label in zip(row, col, f.points.label):
            if 0 <= r < height and 0 <= c < width:
                cells[r][c] = POINT[label % len(POINT)]
    lines = []
    for r in range(height):
        line, run, run_style = Text(), "", None
        for c in range(width):
            style = _shade(proba[r, c], full_color)
            if cells[r][c] in POINT:
                style = f"bold white {style}".strip()
            if style != run_style and run:
                line.append(run, style=run_style)
                run = ""
            run, run_style = run + cells[r][c], style
        line.append(run, style=run_style)
        lines.append(line)
    return lines


def sample(field: Field, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """The field's probabilities at the grid points nearest to (xs, ys):
    (len(ys), len(xs), k)."""
    i = np.abs(field.ys[:, None] - ys[None, :]).argmin(axis=0)  # (len(ys),)
    j = np.abs(field.xs[:, None] - xs[None, :]).argmin(axis=0)  # (len(xs),)
    return field.proba[i][:, j]


def _cell(v: np.ndarray, lo: float, hi: float, n: int) -> np.ndarray:
    return np.floor((v - lo) / (hi - lo) * n).astype(int)


NAMED = ["blue", "red", "green", "magenta", "yellow", "cyan"]


def _shade(p: np.ndarray, full: bool) -> str:
    """A background for a map cell. With 256 or more colours: the classes'
    colours mixed by probability, dimmed. With 16: the predicted class's
    colour where the model is sure (p >= 0.75), none elsewhere."""
    k = len(p)
    p = np.nan_to_num(p)
    if not full:
        top = int(p.argmax())
        return f"on {NAMED[top % len(NAMED)]}" if p[top] >= 0.75 else ""
    base = np.array([BLEND[i % len(BLEND)] for i in range(k)], dtype=float)
    rgb = (p[:, None] * base).sum(axis=0) * 0.55 + 20
    r, g, b = (int(min(255, v)) for v in rgb)
    return f"on rgb({r},{g},{b})"


def legend(field: Field) -> str:
    """What the map's characters mean: regions by predicted class, points by
    true class."""
    regions = ", ".join(
        f"'{REGION[i % len(REGION)]}' {name}" for i, name in enumerate(field.classes)
    )
    points = ", ".join(
        f"'{POINT[i % len(POINT)]}' {name}" for i, name in enumerate(field.classes)
    )
    return f"predicted class: {regions}; data points of class: {points}"


def line_chart(
    series: dict[str, list[float]], epochs: list[float], width: int, height: int
) -> list[str]:
    """An ASCII chart: one character per series (SERIES, in order), a value
    axis on the left and the epochs below; later series draw over earlier."""
    values = [v for s in series.values() for v in s if math.isfinite(v)]
    if not values or not epochs:
        return ["(no finite values)"]
    lo, hi = min(values), max(values)
    if hi == lo:
        lo, hi = lo - 0.5, hi + 0.5
    labels = [f"{hi:.4g}", f"{(lo + hi) / 2:.4g}", f"{lo:.4g}"]
    pad = max(len(s) for s in labels)
    plot_w = max(8, width - pad - 2)
    grid = [[" "] * plot_w for _ in range(height)]
    for mark, values_ in zip(SERIES, series.values()):
        for c in range(plot_w):
            v = _at(values_, epochs, c, plot_w)
            if v is None:
                continue
            r = round((hi - v) / (hi - lo) * (height - 1))
            grid[r][c] = mark
    lines = []
    for r in range(height):
        label = (
            labels[0]
            if r == 0
            else labels[2]
            if r == height - 1
            else labels[1]
            if r == (height - 1) // 2
            else ""
        )
        lines.append(f"{label:>{pad}} |" + "".join(grid[r]).rstrip())
    first, last = f"{epochs[0]:g}", f"{epochs[-1]:g}"
    axis = " " * pad + " +" + "-" * plot_w
    ticks = list(first + " " * (plot_w - len(first) - len(last)) + last)
    mid = (plot_w - 5) // 2
    if mid > len(first) + 1 and mid + 6 < plot_w - len(last):
        ticks[mid : mid + 5] = "epoch"
    return lines + [axis, " " * (pad + 2) + "".join(ticks)]


def _at(values: list[float], epochs: list[float], c: int, w: int) -> float | None:
    """The series at column c of w, interpolated linearly between epochs."""
    if len(values) == 1:
        return values[0] if c == 0 and math.isfinite(values[0]) else None
    t = c / (w - 1) * (len(values) - 1)
    i = min(int(t), len(values) - 2)
    a, b = values[i], values[i + 1]
    if not (math.isfinite(a) and math.isfinite(b)):
        return None
    return a + (b - a) * (t - i)


def render(plot: RunPlot, width: int, full_color: bool = True) -> list[Any]:
    """The lines `nncli plot --terminal` prints for one run (`full_color`:
    the terminal shows 256 colours or more)."""
    from rich.text import Text

    def wrapped(text: str, style: str = "") -> list[Any]:
        return [Text(t, style=style) for t in textwrap.wrap(text, width) or [""]]

    out: list[Any] = wrapped(plot.title.replace("\n", "  "), "bold")
    if plot.field is not None:
        map_w = max(16, min(width, 100))  # a map is not wider than the terminal
        map_h = max(8, min(30, round(map_w * 0.3)))  # a cell is about 1:2
        f = plot.field
        out += wrapped(
            f"decision boundary: {f.feature_names[0]} {f.xs[0]:.3g}..{f.xs[-1]:.3g}"
            f" (across), {f.feature_names[1]} {f.ys[0]:.3g}..{f.ys[-1]:.3g} (up)"
        )
        out += boundary_map(plot.field, map_w, map_h, full_color)
        out += wrapped(legend(plot.field))
    for note in plot.notes:
        out += wrapped(f"note: {note}")
    epochs = plot.curves.get("epoch", [])
    for name, columns in curve_groups(plot.curves):
        out.append(Text(""))
        key = "   ".join(f"{m} {c}" for m, c in zip(SERIES, columns))
        out += wrapped(f"{name}: {key}")
        series = {c: plot.curves[c] for c in columns}
        out += [Text(s) for s in line_chart(series, epochs, min(width, 100), 10)]
    return out
