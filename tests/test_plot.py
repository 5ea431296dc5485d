"""`nncli plot` and `train --plot`: the boundary field is the model's own
prediction, the pictures show it (PNG pixels, terminal characters), and the
seed's two moons models look different.

The terminal drawing is tested always; the PNG tests need matplotlib (the
`plot` extra) and skip without it.
"""

from __future__ import annotations

import io
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nncli.cli import app
from nncli.plot import load_plot
from nncli.termplot import POINT, REGION, boundary_map, line_chart

runner = CliRunner()
SPECS = Path(__file__).resolve().parents[1] / "specs"
EXTRA = "pip install 'nncli[plot]'"


def invoke(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env=env)


def train(spec: Path, runs: Path, *extra) -> Path:
    result = invoke("train", spec, "--runs-dir", runs, "-q", *extra)
    assert result.exit_code == 0, result.stderr
    return Path(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def moons(tmp_path_factory) -> tuple[Path, Path]:
    """The seed's comparison: specs/moons.yaml (3-4-2-1, 5 epochs) and
    specs/moons_large.yaml, trained as shipped."""
    runs = tmp_path_factory.mktemp("moons") / "runs"
    return train(SPECS / "moons.yaml", runs), train(SPECS / "moons_large.yaml", runs)


def model_proba(run: Path, x: np.ndarray) -> np.ndarray:
    """P(class 1) at raw inputs x (n, 2), computed apart from nncli.plot."""
    from nncli.data.preprocess import Preprocessing
    from nncli.inspect import session_from_run

    s = session_from_run(run)
    prep = Preprocessing.from_json(json.loads((run / "preprocessing.json").read_text()))
    y = s.model.predict(s.backend.asarray(prep.apply(x)))
    return s.backend.to_numpy(y)[:, 0].astype(np.float64)


def test_the_field_is_the_models_prediction_at_sampled_points(moons):
    for run in moons:
        field = load_plot(run, grid=60).field
        assert field.proba.shape == (45, 60, 2)
        rng = np.random.default_rng(0)
        i, j = rng.integers(0, 45, 40), rng.integers(0, 60, 40)
        x = np.stack([field.xs[j], field.ys[i]], axis=1)  # (40, 2)
        np.testing.assert_allclose(field.proba[i, j, 1], model_proba(run, x), atol=1e-6)
        np.testing.assert_allclose(field.proba.sum(axis=2), 1.0)
        assert len(field.points.x) == 1000 and field.points.validation.sum() == 200


def test_the_two_moons_models_draw_different_boundaries(moons):
    small, large = (load_plot(r, grid=80) for r in moons)
    top_small = small.field.proba.argmax(axis=2)
    top_large = large.field.proba.argmax(axis=2)
    assert (top_small != top_large).mean() > 0.1  # visibly different maps

    def agreement(plot):  # how often the map's class at a point is its label
        f, pts = plot.field, plot.field.points
        j = np.abs(f.xs[None, :] - pts.x[:, :1]).argmin(axis=1)
        i = np.abs(f.ys[None, :] - pts.x[:, 1:]).argmin(axis=1)
        return (f.proba[i, j].argmax(axis=1) == pts.label).mean()

    assert agreement(large) > 0.95 and agreement(large) > agreement(small) + 0.05
    for plot in (small, large):  # and the loss falls in both
        assert plot.curves["loss"][-1] < plot.curves["loss"][0]
    assert large.curves["val_loss"][-1] < 0.5 * small.curves["val_loss"][-1]


def test_points_are_drawn_in_the_users_units(tmp_path):
    rng = np.random.default_rng(3)
    x = np.stack([rng.normal(500, 50, 60), rng.normal(0, 0.01, 60)], axis=1)
    rows = [f"{u:.4f},{v:.6f},{'hi' if u > 500 else 'lo'}" for u, v in x]
    (tmp_path / "d.csv").write_text("w,h,size\n" + "\n".join(rows) + "\n")
    (tmp_path / "s.yaml").write_text(
        "data: {train: d.csv, target: size, validation_split: 0.2, standardize: true}\n"
        "model: {input_shape: [2], layers: [{type: dense, units: 2, "
        "activation: softmax}]}\n"
        "loss: sparse_categorical_crossentropy\nepochs: 2\nbatch_size: 8\n"
    )
    run = train(tmp_path / "s.yaml", tmp_path / "runs")
    field = load_plot(run, grid=20).field
    got = field.points.x[np.lexsort(field.points.x.T)]
    want = np.round(x, 6)[np.lexsort(np.round(x, 6).T)]
    np.testing.assert_allclose(got, want, atol=1e-4)  # not standardised values
    assert field.feature_names == ["w", "h"] and field.classes == ["hi", "lo"]
    assert field.xs[0] < x[:, 0].min() and field.xs[-1] > x[:, 0].max()


def test_the_terminal_map_shows_each_cells_class_and_the_points(moons):
    run = moons[1]
    field = load_plot(run).field
    width, height = 60, 18
    lines = boundary_map(field, width, height)
    text = [ln.plain for ln in lines]
    assert len(text) == height and all(len(t) == width for t in text)
    (x0, x1), (y0, y1) = (field.xs[[0, -1]], field.ys[[0, -1]])
    cx = x0 + (np.arange(width) + 0.5) * (x1 - x0) / width
    cy = y1 - (np.arange(height) + 0.5) * (y1 - y0) / height  # row 0 on top
    gx, gy = np.meshgrid(cx, cy)
    p = model_proba(run, np.stack([gx.ravel(), gy.ravel()], 1)).reshape(height, -1)
    sure = np.abs(p - 0.5) > 0.1  # away from the boundary itself
    chars = np.array([list(t) for t in text])
    region = ~np.isin(chars, list(POINT))
    want = np.where(p > 0.5, REGION[1], REGION[0])
    checked = region & sure
    assert checked.sum() > 0.3 * width * height
    assert (chars[checked] == want[checked]).all()
    pts = field.points
    col = np.floor((pts.x[:, 0] - x0) / (x1 - x0) * width).astype(int)
    row = np.floor((y1 - pts.x[:, 1]) / (y1 - y0) * height).astype(int)
    for r, c in zip(*np.nonzero(~region)):  # a point mark: a point of that class
        label = POINT.index(chars[r, c])
        assert ((row == r) & (col == c) & (pts.label == label)).any()
    assert {POINT[0], POINT[1]} <= set(chars[~region])


def test_a_line_chart_runs_from_high_to_low(tmp_path):
    lines = line_chart({"loss": [1.0, 0.5, 0.25, 0.2]}, [1, 2, 3, 4], 40, 8)
    assert all(len(ln) <= 40 for ln in lines)
    body = lines[:8]
    assert body[0].startswith("  1 |*") and body[0].count("*") <= 3  # top left
    assert body[-1].startswith("0.2 |") and body[-1].endswith("*")  # bottom right
    assert all(ln.count("*") >= 1 for ln in body[:3])  # one line, no gaps
    assert lines[-1].split() == ["1", "epoch", "4"]


@pytest.mark.parametrize("columns", [100, 60])
def test_plot_terminal_fits_the_terminal(moons, columns):
    result = invoke(*["plot", *moons, "--terminal"], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(map(len, lines)) <= columns
    maps = [ln for ln in lines if len(ln) == columns and set(ln) <= set(REGION + POINT)]
    assert len(maps) == 2 * round(columns * 0.3)  # two maps, full width
    for run in moons:
        assert any(ln.startswith(run.name) for ln in lines)
    assert sum("predicted class: ' ' 0, '.' 1" in ln for ln in lines) == 2
    assert sum(ln.startswith("loss: * loss   o val_loss") for ln in lines) == 2
    assert "\x1b" not in result.stdout  # not a terminal here: no colour codes


def test_without_matplotlib_plot_draws_in_the_terminal(moons, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails
    result = invoke("plot", moons[0])
    assert result.exit_code == 0, result.stderr
    assert f"matplotlib, which is not installed: {EXTRA}" in result.stderr
    assert "predicted class" in result.stdout and "loss:" in result.stdout
    out = invoke("plot", moons[0], "--out", tmp_path / "x.png")
    assert out.exit_code == 1 and EXTRA in out.stderr
    assert not (tmp_path / "x.png").exists()
    spec = tmp_path / "m.yaml"
    spec.write_text(
        (SPECS / "moons.yaml").read_text().replace("epochs: 5", "epochs: 1")
    )
    result = invoke("train", spec, "--runs-dir", tmp_path / "runs", "--plot")
    assert result.exit_code == 0, result.stderr
    assert "warning: --plot: PNG plots need matplotlib" in result.stderr
    run = Path(result.stdout.strip().splitlines()[-1])
    assert run.is_dir() and not (run / "plot.png").exists()


def test_models_without_a_boundary_get_curves_and_a_note(tmp_path):
    spec = tmp_path / "iris.yaml"
    spec.write_text((SPECS / "iris.yaml").read_text() + "\n")
    run = train(spec, tmp_path / "runs", "--set", "epochs=2")
    plot = load_plot(run)
    assert plot.field is None and plot.curves["epoch"] == [1.0, 2.0]
    assert plot.notes == [
        "no decision boundary: the model has 4 input features (a boundary map needs 2)"
    ]
    result = invoke("plot", run, "--terminal", "--json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)  # the drawing went to stderr
    assert out["runs"][0]["boundary"] is False and out["files"] == []
    assert "loss:" in result.stderr


@pytest.mark.parametrize("command", ["plot", "predict"])
def test_help_has_an_example(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0 and "Example:" in result.stdout


# ---------------------------------------------------------------- PNG


def test_plot_writes_each_runs_png_and_one_side_by_side(moons, tmp_path):
    image = pytest.importorskip("matplotlib.image")
    runs = tmp_path / "runs"
    copies = [shutil.copytree(r, runs / r.name) for r in moons]
    result = invoke("plot", *copies)
    assert result.exit_code == 0, result.stderr
    files = [Path(f) for f in result.stdout.split()]
    side = runs / f"compare-{copies[0].name}-vs-{copies[1].name}.png"
    assert files == [copies[0] / "plot.png", copies[1] / "plot.png", side]
    for f in files:
        assert f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f.stat().st_size > 30_000  # a picture, not an empty canvas
    one, both = image.imread(files[0]), image.imread(side)
    assert one.shape[0] == both.shape[0] == 940  # boundary, loss, metric rows
    assert one.shape[1] == 440 and both.shape[1] == 880  # one column per run
    assert list(runs.glob(".*")) == []  # no temporary files left behind


def test_png_pixels_show_the_models_probability(moons):
    pytest.importorskip("matplotlib")
    from matplotlib.image import imread

    from nncli.figures import field_cmap, figure

    run = moons[0]  # the small model: a soft field with many shades
    plot = load_plot(run, grid=50)
    fig = figure([plot])
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi)
    pixels = imread(io.BytesIO(buf.getvalue()))[:, :, :3]  # (H, W, 3)
    ax = fig.axes[0]
    f = plot.field
    to_px = ax.transData.transform
    dots = to_px(f.points.x)  # (n, 2) display pixels of the data points
    legend = ax.get_legend().get_window_extent()
    lut = field_cmap()(np.linspace(0, 1, 256))[:, :3]  # (256, 3)
    rng = np.random.default_rng(1)
    ii, jj = rng.integers(0, len(f.ys), 400), rng.integers(0, len(f.xs), 400)
    probs = model_proba(run, np.stack([f.xs[jj], f.ys[ii]], axis=1))
    checked = 0
    for i, j, p in zip(ii, jj, probs):
        px, py = to_px((f.xs[j], f.ys[i]))
        near_dot = (np.hypot(*(dots - (px, py)).T) < 8).any()
        if near_dot or abs(p - 0.5) < 0.05 or legend.contains(px, py):
            continue
        color = pixels[int(round(pixels.shape[0] - py)), int(px)]
        shown = np.abs(lut - color).sum(axis=1).argmin() / 255  # colour -> p
        assert abs(shown - p) < 0.02, (f.xs[j], f.ys[i], p, shown)
        checked += 1
    assert checked >= 40


def test_train_plot_writes_the_runs_png(tmp_path):
    pytest.importorskip("matplotlib")
    spec = tmp_path / "m.yaml"
    spec.write_text(
        (SPECS / "moons.yaml").read_text().replace("epochs: 5", "epochs: 2")
    )
    result = invoke("train", spec, "--runs-dir", tmp_path / "runs", "--plot")
    assert result.exit_code == 0, result.stderr
    run = Path(result.stdout.strip().splitlines()[-1])
    assert (run / "plot.png").read_bytes()[:4] == b"\x89PNG"
    assert f"plot: {run / 'plot.png'}" in result.stderr


def _drawn_figures(monkeypatch) -> list:
    """The Figure objects `nncli plot` saves, captured as save_png builds them."""
    from nncli import figures

    drawn, build = [], figures.figure
    monkeypatch.setattr(
        figures, "figure", lambda p: drawn.append(build(p)) or drawn[-1]
    )
    return drawn


def _row_col(xy: np.ndarray, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel (rows, columns) of display points (n, 2), y up: Agg snaps a marker's
    centre to the pixel nearest its position."""
    xy = np.round(xy).astype(int)
    return height - xy[:, 1], xy[:, 0]


def _metrics(run: Path) -> dict[str, list[float]]:
    import csv

    rows = list(csv.DictReader(io.StringIO((run / "metrics.csv").read_text())))
    return {k: [float(r[k]) for r in rows] for k in rows[0]}


def test_the_written_pngs_show_the_data_points_and_the_curves(
    moons, tmp_path, monkeypatch
):
    pytest.importorskip("matplotlib")
    from matplotlib.colors import to_rgb
    from matplotlib.image import imread

    from nncli.figures import CLASS_COLORS

    drawn = _drawn_figures(monkeypatch)
    copies = [shutil.copytree(r, tmp_path / r.name) for r in moons]
    result = invoke("plot", *copies)
    assert result.exit_code == 0, result.stderr
    assert len(drawn) == 3  # each run's plot.png, then the side-by-side file
    class_rgb = np.array([to_rgb(c) for c in CLASS_COLORS[:2]])  # (2, 3)
    for run, fig in zip(copies, drawn):
        pixels = imread(run / "plot.png")[:, :, :3]  # (H, W, 3): the file written
        height = pixels.shape[0]
        assert pixels.shape[:2] == (round(fig.bbox.height), round(fig.bbox.width))
        boundary, loss_ax, metric_ax = fig.axes[:3]
        pts = load_plot(run, grid=10).field.points  # the data, read apart
        xy = boundary.transData.transform(pts.x)  # (n, 2) display pixels
        gap = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
        np.fill_diagonal(gap, np.inf)
        legend = boundary.get_legend().get_window_extent()
        inside = (xy >= legend.min).all(axis=1) & (xy <= legend.max).all(axis=1)
        alone = (gap.min(axis=1) > 7) & ~inside  # (n,) no other mark on top
        shown = pixels[_row_col(xy, height)]  # (n, 3) at each point's centre
        dist = np.abs(shown - class_rgb[pts.label]).sum(axis=1)  # (n,)
        for label in (0, 1):  # each class's points, in its own colour
            sel = alone & (pts.label == label)
            assert sel.sum() >= 20 and (dist[sel] < 0.1).all()
        want = _metrics(run)
        for ax, names in (
            (loss_ax, ["loss", "val_loss"]),
            (metric_ax, ["accuracy", "val_accuracy"]),
        ):
            lines = {ln.get_label(): ln for ln in ax.get_lines()}
            assert sorted(lines) == sorted(names)
            for name in names:
                line = lines[name]
                np.testing.assert_array_equal(line.get_xdata(), want["epoch"])
                np.testing.assert_array_equal(line.get_ydata(), want[name])
                if len(want["epoch"]) > 20:
                    continue  # no markers on long curves
                at = ax.transData.transform(np.stack([want["epoch"], want[name]], 1))
                color = np.array(to_rgb(line.get_color()))
                got = pixels[_row_col(at, height)]
                assert (np.abs(got - color).sum(axis=1) < 0.1).all(), name
