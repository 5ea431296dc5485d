"""Scoring a finished run; quality gates for CI. (Prediction: nncli/predict.py.)"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from nncli.errors import SpecError
from nncli.inspect import session_from_run

# lower-is-better names when a run's metric objects are not at hand
LOWER_IS_BETTER = (
    "loss",
    "mean_squared_error",
    "mean_absolute_error",
    "root_mean_squared_error",
)


def parse_gates(items: list[str], option: str = "--fail-under") -> dict[str, float]:
    """`accuracy=0.9` -> {"accuracy": 0.9}; a bad item is a usage error."""
    gates: dict[str, float] = {}
    for item in items:
        name, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not name or not _NUMBER.fullmatch(value):
            raise SpecError(
                f"expected METRIC=NUMBER (e.g. accuracy=0.9), got {item!r}", option
            )
        if name in gates:
            raise SpecError(f"{name} is given twice", option)
        if not math.isfinite(float(value)):
            raise SpecError(f"{item!r}: the limit must be a finite number", option)
        gates[name] = float(value)
    return gates


_NUMBER = re.compile(r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?")


def _metric_name(name: str, metrics: dict[str, float], option: str) -> str:
    """The reported metric a gate names: aliases (`acc`, `mae`) and a `val_`
    prefix (eval always scores held-out data) are accepted."""
    from nncli.engine.metrics import metrics as registry

    for candidate in (name, name.removeprefix("val_")):
        if candidate in metrics:
            return candidate
        if candidate in registry and registry.canonical(candidate) in metrics:
            return registry.canonical(candidate)
    raise SpecError(
        f"unknown metric {name!r}; this run reports: {', '.join(metrics)}", option
    )


def check_gates(
    metrics: dict[str, float],
    under: dict[str, float],
    over: dict[str, float] | None = None,
    directions: dict[str, str] | None = None,
) -> list[str]:
    """Messages for each failed gate: a metric below its `under` floor or above
    its `over` ceiling (NaN always fails). Empty when all pass.

    `directions` (column -> "up"/"down", as `evaluate_run` reports them) says
    which metrics are better when lower; without it, LOWER_IS_BETTER does.
    """
    failures = []
    lower = {k for k, v in (directions or {}).items() if v == "down"}
    lower |= set(LOWER_IS_BETTER)
    for name, limit in under.items():
        key = _metric_name(name, metrics, "--fail-under")
        if key in lower:
            raise SpecError(
                f"{key} is better when lower; use --fail-over {name}={limit} "
                "to fail when it is too high",
                "--fail-under",
            )
        if not metrics[key] >= limit:
            failures.append(
                f"quality gate failed: {key} = {metrics[key]:.6f} < {limit}"
            )
    for name, limit in (over or {}).items():
        key = _metric_name(name, metrics, "--fail-over")
        if not metrics[key] <= limit:
            failures.append(
                f"quality gate failed: {key} = {metrics[key]:.6f} > {limit}"
            )
    return failures


def _dataset(session: Any, run_dir: Path, data: Path | None) -> tuple[Any, str]:
    from nncli.data.checks import check_targets
    from nncli.data.sources import load_file
    from nncli.data.tables import input_file
    from nncli.train.session import check_fits

    r = session.resolved
    if data is None:
        from nncli.train.run import attach_data

        attach_data(session, run_dir)
        ds = session.splits.validation
        if ds is None:
            raise SpecError(
                "this run has no validation data; pass --data FILE", "--data"
            )
        return ds, "validation data"

    prep = _preprocessing(run_dir)
    path = input_file(data, "evaluation")
    ds = load_file(str(path), r["data"], Path.cwd(), prep, "evaluation")
    last = session.model.network.layers[-1]
    ds = check_targets(
        ds,
        session.target_kind,
        session.units,
        getattr(last, "activation_name", "linear"),
        r["loss"]["type"],
    )
    check_fits(ds, session.backend.dtype, prep.feature_names)
    return ds, str(data)


def _preprocessing(run_dir: Path) -> Any:
    """The run's saved preprocessing; a damaged file is a run error (exit 1)."""
    from nncli.artifacts import RunReader
    from nncli.data.preprocess import Preprocessing
    from nncli.errors import DataError, RunError

    try:
        return Preprocessing.from_json(RunReader(run_dir).preprocessing())
    except (DataError, KeyError, TypeError, ValueError) as e:
        raise RunError(f"{run_dir}/preprocessing.json is damaged: {e}") from e


def run_warnings(run_dir: Path) -> list[str]:
    """What to know before trusting a score of `run_dir`'s weights: a run that
    diverged, or did not finish (interrupted, stopped, failed, still running
    or killed). Empty for a completed run (or an unreadable summary, which
    evaluating reports on its own terms)."""
    from nncli.artifacts import RunReader
    from nncli.errors import RunError

    try:
        summary = RunReader(run_dir).summary()
    except RunError:
        return []
    status = summary.get("status") if isinstance(summary, dict) else None
    if status in ("completed", None):
        return []
    done, planned = summary.get("epochs_run") or 0, summary.get("epochs")
    if status == "diverged":
        kept = f"epoch {done}" if done else "the initial ones"
        return [
            f"{run_dir} diverged in epoch {done + 1}; evaluating its last good "
            f"weights ({kept})"
        ]
    weights = f"the weights of epoch {done}" if done else "its initial weights"
    why = {
        "running": "it is still training, or was killed",
        "interrupted": "it was interrupted",
        "stopped": "its max_time ran out",
        "failed": "it failed",
    }.get(status, f"its status is {status}")
    of = f" of {planned}" if planned else ""
    return [
        f"{run_dir} is not finished ({why}, after {done}{of} epochs); "
        f"evaluating {weights}"
    ]


def evaluate_run(
    run_dir: Path, data: Path | None = None, confusion: bool = False
) -> dict[str, Any]:
    """Loss and metrics of a run's weights on its validation data or `data`.

    `directions` says which way each metric is better ("up" or "down"); with
    `confusion`, `confusion_matrix` holds the class labels and the counts
    (rows: true class, columns: predicted class).
    """
    from nncli.data.batches import Batches
    from nncli.train.loop import evaluate

    run_dir = Path(run_dir)
    session = session_from_run(run_dir)
    warnings = run_warnings(run_dir)
    counts = _confusion_counts(session) if confusion else None  # refuse early
    ds, label = _dataset(session, run_dir, data)
    batches = Batches(
        ds.x, ds.y, session.resolved["batch_size"], session.backend, weights=ds.weights
    )
    metrics = evaluate(session.model, batches, session.make_metrics)
    directions = {"loss": "down"}
    directions.update({k: m.direction for k, m in session.make_metrics().items()})
    result = {
        "run": str(run_dir),
        "run_dir": str(run_dir),  # the key train --json and runs --json use
        "data": label,
        "samples": len(ds.x),
        "metrics": metrics,
        "directions": directions,
        "warnings": warnings,
    }
    if counts is not None:
        result["confusion_matrix"] = _confusion(session, run_dir, batches, counts)
    return result


def _confusion_counts(session: Any) -> Any:
    from nncli.engine.metrics import ConfusionCounts, Unfit, layout_for

    try:
        return ConfusionCounts(layout_for(session.target_kind, session.units))
    except Unfit as e:
        raise SpecError(str(e), "--confusion-matrix") from None


def _confusion(
    session: Any, run_dir: Path, batches: Any, counts: Any
) -> dict[str, list]:
    """{"labels": class names, "matrix": counts[true][predicted]} over `batches`."""
    from nncli.train.loop import overflow_is_reported

    model = session.model
    with overflow_is_reported():
        for x, y, _ in batches.epoch():
            counts.update(model.predict(x), y, logits=model.outputs_logits)
    classes = _preprocessing(run_dir).classes
    labels = [str(c) for c in classes or []]
    if len(labels) != counts.classes:  # numeric targets: the class ids
        labels = [str(i) for i in range(counts.classes)]
    return {"labels": labels, "matrix": counts.matrix()}
