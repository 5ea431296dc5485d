"""`nncli runs` and `nncli compare`: what the run directories hold, side by side.

Both read only summary.json, metrics.csv and spec.yaml (through RunReader); no
model is built, so listing a folder of many runs stays fast. A damaged run is
listed as `unreadable` with the reason instead of stopping the listing.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from nncli.artifacts import RunReader
from nncli.errors import RunError, SpecError

NOT_METRICS = ("epoch", "seconds", "learning_rate")
ABSENT = object()  # a spec key one run has and another lacks


def direction(column: str, kinds: dict[str, str]) -> str:
    """'down' when a metrics.csv column is better lower (losses, errors), else 'up'.

    `kinds` is summary.json's metric_kinds (column -> registered metric), whose
    class declares the direction; names decide for older runs without it.
    """
    base = column.removeprefix("val_")
    if base == "loss":
        return "down"
    kind = kinds.get(base)
    if kind is not None:
        from nncli.engine.metrics import metrics

        try:
            return metrics.get(kind).direction
        except Exception:  # a kind this version does not know
            pass
    lower = ("loss", "error", "hinge", "divergence", "crossentropy", "rmse", "mse")
    return "down" if any(w in base for w in lower) else "up"


def key_metric(columns: list[str], kinds: dict[str, str]) -> str | None:
    """The column a run is judged by: the first metric on validation data,
    else on training data, else the (validation) loss."""
    first = next(iter(kinds), None)
    for name in (f"val_{first}", first, "val_loss", "loss"):
        if name in columns:
            return name
    return None


def _rows(reader: RunReader) -> list[dict[str, float]]:
    rows = []
    for row in reader.metrics():
        try:
            rows.append({k: float(v) for k, v in row.items()})
        except (TypeError, ValueError):
            continue  # a row cut short: the run is still writing it
    return rows


def best_of(rows: list[dict[str, float]], kinds: dict[str, str]) -> dict[str, dict]:
    """{column: {"value", "epoch"}}: each metric's best finite value, the
    earliest epoch on ties."""
    best: dict[str, dict] = {}
    for column in rows[0] if rows else []:
        if column in NOT_METRICS:
            continue
        sign = 1.0 if direction(column, kinds) == "down" else -1.0
        vals = [
            (sign * r[column], r["epoch"]) for r in rows if math.isfinite(r[column])
        ]
        if vals:
            value, epoch = min(vals)
            best[column] = {"value": sign * value, "epoch": int(epoch)}
    return best


def describe(run_dir: Path) -> dict[str, Any]:
    """One run as `nncli runs --json` shows it."""
    reader = RunReader(run_dir)
    summary = reader.summary()
    kinds = summary.get("metric_kinds") or {}
    rows = _rows(reader)
    final = {
        k: v
        for k, v in (summary.get("final") or (rows[-1] if rows else {})).items()
        if k not in NOT_METRICS
    }
    metric = key_metric(list(final), kinds)
    return {
        "run": reader.dir.name,
        "path": str(reader.dir),
        "run_dir": str(reader.dir),  # as in train, eval, predict and plot --json
        "name": summary.get("name"),
        "started": summary.get("started"),
        "status": summary.get("status", "unknown"),
        "epochs_run": summary.get("epochs_run", len(rows)),
        "epochs": summary.get("epochs"),
        "metric": metric,
        "direction": direction(metric, kinds) if metric else None,
        "final": final,
        "best": best_of(rows, kinds),
        "wall_seconds": summary.get("wall_seconds"),
        "metric_kinds": kinds,
    }


def list_runs(runs_dir: Path) -> list[dict[str, Any]]:
    """Every run directory under `runs_dir`, oldest first."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        what = "is a file" if runs_dir.exists() else "does not exist"
        raise RunError(f"runs directory {runs_dir} {what} (train --runs-dir makes it)")
    out = []
    for path in sorted(p for p in runs_dir.iterdir() if p.is_dir()):
        try:
            out.append(describe(path))
        except RunError as e:
            if not (path / "spec.yaml").is_file():
                continue  # not a run: some other folder
            out.append(
                {
                    "run": path.name,
                    "path": str(path),
                    "run_dir": str(path),
                    "status": "unreadable",
                }
            )
            out[-1]["error"] = e.lines()[0]
    return sorted(out, key=_start_order)


def _start_order(run: dict[str, Any]) -> tuple[str, int, str]:
    """summary.json's start (to the second), then when spec.yaml was written
    (finer, for runs started in the same second), then the name."""
    try:
        ns = (Path(run["path"]) / "spec.yaml").stat().st_mtime_ns
    except OSError:
        ns = 0
    return run.get("started") or "", ns, run["run"]


def _flatten(values: list[Any], path: str, out: dict[str, list[Any]]) -> None:
    """Leaves that differ between `values` (one per run), by dotted path."""
    present = [v for v in values if v is not ABSENT]
    if present and len(present) == len(values):
        if all(isinstance(v, dict) for v in values):
            keys = list(dict.fromkeys(k for v in values for k in v))
            for k in keys:
                sub = f"{path}.{k}" if path else str(k)
                _flatten([v.get(k, ABSENT) for v in values], sub, out)
            return
        if all(isinstance(v, list) for v in values) and any(
            isinstance(x, dict) for v in values for x in v
        ):
            for idx in align(values):
                _flatten(
                    [v[i] if i is not None else ABSENT for v, i in zip(values, idx)],
                    _entry_path(path, idx, out),
                    out,
                )
            return
    values = [None if v is ABSENT else v for v in values]  # absent = null
    if any(v != values[0] for v in values[1:]):
        out[path] = values


def _signature(item: Any) -> Any:
    """What makes two list entries the same layer when lists are aligned: the
    type and, for a layer, its activation's type (units may differ)."""
    if not isinstance(item, dict):
        return repr(item)
    act = item.get("activation")
    return item.get("type"), act.get("type") if isinstance(act, dict) else act


def align(lists: list[list[Any]]) -> list[list[int | None]]:
    """Rows of indices, one per list (None where a list lacks the entry).

    Each list is matched to the first by entry type (a longest common
    subsequence, earliest entries paired first), so a layer removed from the
    middle is one row of its own, not a change in every layer after it.
    Unmatched entries between two matches are paired one for one.
    """
    first = [_signature(x) for x in lists[0]]
    rows = {(i, 0, 0): [i] + [None] * (len(lists) - 1) for i in range(len(first))}
    for k, items in enumerate(lists[1:], 1):
        pairs, gap_a, gap_b = [], [], []
        for i, j in _lcs(first, [_signature(x) for x in items]) + [(None, None)]:
            if i is not None and j is not None or i is j is None:
                n = min(len(gap_a), len(gap_b))  # replaced one for one
                pairs += list(zip(gap_a[:n], gap_b[:n]))
                after = gap_a[n - 1] if n else (pairs[-1][0] if pairs else -1)
                for jj in gap_b[n:]:  # only in this list: a row of its own
                    row = [None] * len(lists)
                    row[k] = jj
                    rows[(after + 0.5, k, jj)] = row
                gap_a, gap_b = [], []
                if i is not None:
                    pairs.append((i, j))
            elif i is not None:
                gap_a.append(i)
            else:
                gap_b.append(j)
        for i, j in pairs:
            rows[(i, 0, 0)][k] = j
    return [rows[key] for key in sorted(rows)]


def _lcs(a: list[Any], b: list[Any]) -> list[tuple[int | None, int | None]]:
    """a and b merged: (i, j) for a match, (i, None) / (None, j) for an entry
    only one has; of the longest matchings, the one pairing earliest."""
    n, m = len(a), len(b)
    best = [[0] * (m + 1) for _ in range(n + 1)]  # LCS of a[i:], b[j:]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            best[i][j] = (
                best[i + 1][j + 1] + 1
                if a[i] == b[j]
                else max(best[i + 1][j], best[i][j + 1])
            )
    out: list[tuple[int | None, int | None]] = []
    i = j = 0
    while i < n or j < m:
        if i < n and j < m and a[i] == b[j] and best[i][j] == best[i + 1][j + 1] + 1:
            out.append((i, j))
            i, j = i + 1, j + 1
        elif j >= m or (i < n and best[i + 1][j] >= best[i][j + 1]):
            out.append((i, None))
            i += 1
        else:
            out.append((None, j))
            j += 1
    return out


def _entry_path(path: str, idx: list[int | None], taken: dict) -> str:
    """`model.layers[2]` when the entry has one index in every run that has
    it, else its index in each run: `model.layers[3→2]`, `[2→-]` (absent)."""
    present = {i for i in idx if i is not None}
    if len(present) == 1:
        one = f"{path}[{present.pop()}]"
        if not any(k == one or k.startswith(one + ".") for k in taken):
            return one
    return f"{path}[{'→'.join('-' if i is None else str(i) for i in idx)}]"


def spec_differences(specs: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """{path: [value per run]} for every spec entry that is not the same in all
    (None where a run lacks it, e.g. a layer the other model does not have; a
    missing key and a null value count as the same)."""
    out: dict[str, list[Any]] = {}
    _flatten(specs, "", out)
    return out


def compare(runs: list[Path], metric: str | None = None) -> dict[str, Any]:
    """Spec differences, metrics side by side and the best run on `metric`
    (default: the first run's key metric), judged on final values."""
    if len(runs) < 2:
        raise SpecError("give two or more run directories to compare", "RUN")
    described = [describe(r) for r in runs]
    specs = [RunReader(r).spec() for r in runs]
    metric = _chosen(metric, described)
    columns = list(dict.fromkeys(k for d in described for k in d["final"]))
    way = direction(metric, described[0]["metric_kinds"])
    scored = [
        (d["final"][metric], i)
        for i, d in enumerate(described)
        if metric in d["final"] and math.isfinite(d["final"][metric])
    ]
    winner = None
    if scored:
        pick = min if way == "down" else max
        value = pick(v for v, _ in scored)
        tied = [i for v, i in scored if v == value]
        winner = {
            "runs": [described[i]["run"] for i in tied],
            "value": value,
        }
    return {
        "runs": [d["run"] for d in described],
        "paths": [d["path"] for d in described],
        "run_dirs": [d["path"] for d in described],
        "spec_differences": spec_differences(specs),
        "metrics": {
            c: {
                "final": [d["final"].get(c) for d in described],
                "best": [d["best"].get(c) for d in described],
            }
            for c in columns
        },
        "metric": metric,
        "direction": way,
        "best": winner,
    }


def _chosen(metric: str | None, described: list[dict[str, Any]]) -> str:
    """The metrics.csv column `metric` names (aliases such as `acc` accepted)."""
    reported = list(dict.fromkeys(k for d in described for k in d["final"]))
    if metric is None:
        found = described[0]["metric"]
        if found is None:
            raise RunError(f"{described[0]['path']} has no finished epoch to compare")
        return found
    if metric in reported:
        return metric
    from nncli.engine.metrics import metrics

    prefix = "val_" if metric.startswith("val_") else ""
    base = metric.removeprefix("val_")
    if base in metrics and prefix + metrics.canonical(base) in reported:
        return prefix + metrics.canonical(base)
    raise SpecError(
        f"unknown metric {metric!r}; these runs report: {', '.join(reported)}",
        "--metric",
    )


# ---------------------------------------------------------------- text


def fmt_value(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4f}" if math.isfinite(v) else str(v)
    return str(v)


def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "-"
    if s < 60:
        return f"{s:.1f}s"
    m, sec = divmod(int(round(s)), 60)
    return f"{m}m{sec:02d}s" if m < 60 else f"{m // 60}h{m % 60:02d}m"


def runs_table(runs: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of `nncli runs`. When every run has the same key metric
    its name heads the `final` column; otherwise a `metric` column names it.
    The loss column is the final validation loss (`val_loss`), or, for a run
    without validation data, its training loss, marked `(loss)` when other
    runs show val_loss (headed `loss` when no run has validation data)."""
    metrics = {r["metric"] for r in runs if r["status"] != "unreadable"}
    shared = len(metrics) == 1 and None not in metrics
    header = ["run", "started", "status", "epochs"]
    header += [next(iter(metrics))] if shared else ["metric", "final"]
    readable = [r for r in runs if r["status"] != "unreadable"]
    validated = [("val_loss" in r["final"]) for r in readable]
    header += ["best", "val_loss" if any(validated) else "loss", "wall"]
    mixed = any(validated) and not all(validated)  # name the odd ones' column
    rows = []
    for r in runs:
        if r["status"] == "unreadable":
            rows.append([r["run"], "-", "unreadable"] + ["-"] * (len(header) - 3))
            continue
        metric, final, best = r["metric"], r["final"], r["best"]
        loss = "val_loss" if "val_loss" in final else "loss"
        top = best.get(metric)
        epochs = r["epochs"] if r["epochs"] is not None else "?"
        row = [
            r["run"],
            (r["started"] or "-")[:16].replace("T", " "),
            r["status"],
            f"{r['epochs_run']}/{epochs}",
        ]
        row += [] if shared else [metric or "-"]
        row += [
            fmt_value(final.get(metric)),
            f"{top['value']:.4f} @{top['epoch']}" if top else "-",
            fmt_value(final.get(loss))
            + (" (loss)" if mixed and loss == "loss" and loss in final else ""),
            fmt_seconds(r["wall_seconds"]),
        ]
        rows.append(row)
    return header, rows


def compare_tables(
    result: dict[str, Any],
) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) for the spec differences and the metrics."""
    runs = result["runs"]
    diffs = [
        [path] + _cells(path, values)
        for path, values in result["spec_differences"].items()
    ]
    metrics = []
    for column, m in result["metrics"].items():
        cells = []
        for final, best in zip(m["final"], m["best"]):
            text = fmt_value(final)
            if best is not None and best["value"] != final:
                text += f" (best {best['value']:.4f} @{best['epoch']})"
            cells.append(text)
        metrics.append([column] + cells)
    return [
        ("spec differences", ["spec"] + runs, diffs),
        ("final metrics", ["metric"] + runs, metrics),
    ]


def verdict(result: dict[str, Any]) -> str:
    way = "lower" if result["direction"] == "down" else "higher"
    best = result["best"]
    if best is None:
        return f"no run reports a finite {result['metric']}"
    who = " and ".join(best["runs"])
    tie = " (tie)" if len(best["runs"]) > 1 else ""
    return (
        f"best on {result['metric']} ({way} is better): {who}{tie} "
        f"with {best['value']:.4f}"
    )


def _cells(path: str, values: list[Any]) -> list[str]:
    """A spec difference's cells. A list entry (a layer) some runs lack is
    summarised, `added: ...` where the first run lacks it, and `removed` in
    the runs without one the first run has."""
    entry = path.endswith("]") and any(isinstance(v, dict) for v in values)
    if not (entry and None in values):
        return [_short(v) for v in values]
    layers = path.rsplit("[", 1)[0].endswith("layers")
    cells = []
    for k, v in enumerate(values):
        if v is None:
            cells.append("removed" if k and values[0] is not None else "-")
        else:
            text = _entry_text(v, layers) if isinstance(v, dict) else _short(v)
            cells.append(f"added: {text}" if values[0] is None else text)
    return cells


def _entry_text(entry: dict[str, Any], layer: bool) -> str:
    """A list entry in a few words: its type, then the options that differ
    from the layer's defaults (named things by their name), e.g.
    `dense, units: 2, activation: relu`."""
    short = entry_options(entry, layer)
    parts = [str(short.pop("type", None))]
    parts += [f"{key}: {_short(value)}" for key, value in short.items()]
    return _short(", ".join(parts))


def entry_options(entry: dict[str, Any], layer: bool) -> dict[str, Any]:
    """`entry` without the options at their defaults (for a layer), named
    things by their name: {type: dense, units: 2, activation: relu}."""
    defaults: dict[str, Any] = {}
    if layer:
        try:
            import nncli.engine  # noqa: F401  (fills the layer registry)
            from nncli.engine.layers import layers

            fields = layers.get(str(entry.get("type"))).Config.model_fields
            defaults = {k: f.default for k, f in fields.items() if not f.is_required()}
        except Exception:  # a layer this version does not know: show all
            defaults = {}
    out = {"type": entry.get("type")}
    for key, value in entry.items():
        name = value.get("type") if isinstance(value, dict) else value
        default = defaults.get(key, ABSENT)
        if key == "type" or value is None or value == default or name == default:
            continue
        out[key] = name
    return out


def _short(v: Any, width: int = 120) -> str:
    """A spec value on one table cell: flow YAML, cut at `width` characters."""
    if v is None:
        return "-"
    if isinstance(v, bool):  # as in the spec (YAML), not Python's True/False
        return "true" if v else "false"
    if isinstance(v, dict | list):
        import yaml

        text = yaml.safe_dump(v, default_flow_style=True, sort_keys=False, width=10**6)
        text = text.strip()
    else:
        text = str(v)
    return text if len(text) <= width else text[: width - 1] + "…"


def plain_table(
    header: list[str],
    rows: list[list[str]],
    width: int | None = None,
    fold: tuple[int, ...] = (),
) -> list[str]:
    """Aligned columns, two spaces apart, no trailing blanks.

    With `width` (the terminal's), the columns in `fold` wrap onto more lines
    (at spaces where they can, never below 8 characters) until the table fits;
    the others (names, numbers) always stay whole.
    """
    cells = [header] + rows
    widths = [max(len(r[j]) for r in cells) for j in range(len(header))]
    if width is not None:
        excess = sum(widths) + 2 * (len(widths) - 1) - width
        for j in sorted(fold, key=lambda j: -widths[j]):  # widest gives first
            if excess <= 0:
                break
            cut = min(excess, widths[j] - 8)
            if cut > 0:
                widths[j] -= cut
                excess -= cut
    lines = []
    for r in cells:
        parts = [_wrap(c, w) for c, w in zip(r, widths)]
        for k in range(max(len(p) for p in parts)):
            line = "  ".join(
                (p[k] if k < len(p) else "").ljust(w) for p, w in zip(parts, widths)
            )
            lines.append(line.rstrip())
    return lines


def _wrap(text: str, width: int) -> list[str]:
    if len(text) <= width:
        return [text]
    import textwrap

    return textwrap.wrap(text, width, break_on_hyphens=False) or [text]
