"""PNG pictures of runs with matplotlib (the optional extra `plot`).

One column per run: the decision boundary over the data on top (probability
field, 0.5 contour, training dots and validation triangles in their true
class's colour), then the loss and the metric curves, each row on a shared
value scale so runs compare at a glance. matplotlib is used through its
object API (Figure + the Agg canvas), never pyplot: no global state, no
display needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nncli.plot import Field, RunPlot, curve_groups, require_matplotlib


def figure(plots: list[RunPlot]) -> Any:
    """A matplotlib Figure: one column per run; the boundary on top, then the
    loss and the metrics, each row on a shared value scale."""
    require_matplotlib()
    from matplotlib.figure import Figure

    with_field = any(p.field is not None for p in plots)
    kinds = (["boundary"] if with_field else []) + [
        name for name in ("loss", "metrics") if any(_has(p, name) for p in plots)
    ]
    heights = {"boundary": 4.0, "loss": 2.4, "metrics": 2.4}
    fig = Figure(
        figsize=(4.4 * len(plots), sum(heights[k] for k in kinds) + 0.6),
        dpi=100,
        layout="constrained",
    )
    axes = fig.subplots(
        len(kinds),
        len(plots),
        squeeze=False,
        height_ratios=[heights[k] for k in kinds],
    )
    for row, kind in enumerate(kinds):
        for col, plot in enumerate(plots):
            ax = axes[row][col]
            if kind == "boundary":
                _draw_field(ax, plot)
            else:
                _draw_curves(ax, plot, kind)
                if row == 0:  # no boundary row: the run's name goes here
                    ax.set_title(f"{plot.title}\n{ax.get_title()}", fontsize=9)
        if kind != "boundary":
            _share_y([axes[row][c] for c in range(len(plots))])
    if with_field:
        image = next((a.images[0] for a in axes[0] if a.images), None)
        if image is not None and image.get_array().ndim == 2:  # binary: p scale
            bar = fig.colorbar(image, ax=list(axes[0]), shrink=0.9, pad=0.01)
            classes = next(p.field.classes for p in plots if p.field)
            bar.set_label(f"P({classes[-1]})")
    return fig


def _has(plot: RunPlot, kind: str) -> bool:
    return any(name == kind and cols for name, cols in curve_groups(plot.curves))


def _share_y(axes: list[Any]) -> None:
    lows, highs = zip(*(ax.get_ylim() for ax in axes))
    for ax in axes:
        ax.set_ylim(min(lows), max(highs))


CLASS_COLORS = ["#2166ac", "#b2182b", "#1b7837", "#762a83", "#e08214", "#35978f"]


def _draw_field(ax: Any, plot: RunPlot) -> None:
    f = plot.field
    ax.set_title(plot.title, fontsize=10)
    if f is None:
        ax.text(0.5, 0.5, "\n".join(plot.notes), ha="center", va="center", wrap=True)
        ax.set_axis_off()
        return
    k = f.proba.shape[2]
    if k == 2:  # the probability of the second class, on a diverging scale
        ax.imshow(
            f.proba[:, :, 1],
            cmap=field_cmap(),
            vmin=0.0,
            vmax=1.0,
            origin="lower",
            extent=f.extent,
            aspect="auto",
            interpolation="nearest",
        )
        ax.contour(f.xs, f.ys, f.proba[:, :, 1], levels=[0.5], colors="k")
    else:  # each class its colour, paler where the model is less sure
        ax.imshow(
            _class_image(f.proba),
            origin="lower",
            extent=f.extent,
            aspect="auto",
            interpolation="nearest",
        )
        top = f.proba.argmax(axis=2)
        ax.contour(f.xs, f.ys, top, levels=np.arange(k - 1) + 0.5, colors="k")
    if f.points is not None:
        _draw_points(ax, f)
    ax.set_xlabel(f.feature_names[0])
    ax.set_ylabel(f.feature_names[1])
    ax.set_xlim(*f.extent[:2])
    ax.set_ylim(*f.extent[2:])


def field_cmap() -> Any:
    """The light middle of RdBu_r: pale blue (class 0) through white to pale
    red (class 1), so the data points, in the full colours, stand out."""
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap

    colors = colormaps["RdBu_r"](np.linspace(0.22, 0.78, 256))  # (256, 4) RGBA
    return ListedColormap(colors, name="nncli_field")


def _class_image(proba: np.ndarray) -> np.ndarray:
    """(ny, nx, k) probabilities -> (ny, nx, 3) RGB: the likeliest class's
    colour mixed with white by how sure the model is."""
    from matplotlib.colors import to_rgb

    k = proba.shape[2]
    colors = np.array([to_rgb(CLASS_COLORS[i % len(CLASS_COLORS)]) for i in range(k)])
    top = proba.argmax(axis=2)  # (ny, nx)
    sure = (proba.max(axis=2) - 1.0 / k) / (1.0 - 1.0 / k)  # 0 (even) .. 1
    a = (0.12 + 0.36 * sure)[..., None]  # (ny, nx, 1)
    return (1.0 - a) * 1.0 + a * colors[top]


def _draw_points(ax: Any, f: Field) -> None:
    """Training samples as dots, validation samples as triangles, in the full
    colour of their true class (edged, so they show on either region)."""
    pts = f.points
    k = f.proba.shape[2]
    for i in range(k):
        color = CLASS_COLORS[i % len(CLASS_COLORS)]
        for val, marker, label in ((False, "o", "train"), (True, "^", "validation")):
            sel = (pts.label == i) & (pts.validation == val)
            if not sel.any():
                continue
            ax.scatter(
                pts.x[sel, 0],
                pts.x[sel, 1],
                s=14 if val else 9,
                marker=marker,
                c=color,
                edgecolors="black" if val else "white",
                linewidths=0.5 if val else 0.3,
                label=f"{f.classes[i]} ({label})",
            )
    ax.legend(fontsize=6, loc="upper right", framealpha=0.7, markerscale=1.2)


def _draw_curves(ax: Any, plot: RunPlot, kind: str) -> None:
    epochs = plot.curves.get("epoch", [])
    columns = dict(curve_groups(plot.curves)).get(kind, [])
    if not epochs or not columns:
        ax.text(0.5, 0.5, f"no {kind}", ha="center", va="center")
        ax.set_axis_off()
        return
    marker = "o" if len(epochs) <= 20 else None
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
    bases = list(dict.fromkeys(c.removeprefix("val_") for c in columns))
    for c in columns:
        color = palette[bases.index(c.removeprefix("val_")) % len(palette)]
        val = c.startswith("val_")
        ax.plot(
            epochs,
            plot.curves[c],
            color=color,
            linestyle="--" if val else "-",
            marker=marker,
            markersize=3,
            label=c,
        )
    ax.set_xlabel("epoch")
    ax.set_title(kind if kind == "loss" else ", ".join(bases), fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    if kind == "loss" and all(v >= 0 for c in columns for v in plot.curves[c]):
        ax.set_ylim(bottom=0)


def save_png(plots: list[RunPlot], path: Path) -> Path:
    """Draw `plots` side by side into `path` (written whole or not at all)."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from nncli.predict import atomic_output

    fig = figure(plots)
    FigureCanvasAgg(fig)
    with atomic_output(Path(path), binary=True) as f:
        fig.savefig(f, format="png", dpi=fig.dpi)
    return Path(path)
