"""Scoring and prediction with a finished run; quality gates for CI."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from nncli.errors import SpecError
from nncli.inspect import session_from_run


def parse_gates(items: list[str]) -> dict[str, float]:
    """`accuracy=0.9` -> {"accuracy": 0.9}; a bad item is a usage error."""
    gates = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            if not sep or not name.strip():
                raise ValueError
            gates[name.strip()] = float(value)
        except ValueError:
            raise SpecError(f"expected METRIC=VALUE (e.g. accuracy=0.9), got {item!r}",
                            "--fail-under") from None
    return gates


def check_gates(metrics: dict[str, float], gates: dict[str, float]) -> list[str]:
    """Messages for each gate that fails (empty when all pass)."""
    unknown = [g for g in gates if g not in metrics]
    if unknown:
        raise SpecError(f"unknown metric {unknown[0]!r}; this run reports: "
                        f"{', '.join(metrics)}", "--fail-under")
    return [f"quality gate failed: {name} = {metrics[name]:.6f} < {limit}"
            for name, limit in gates.items()
            if not metrics[name] >= limit or math.isnan(metrics[name])]


def _dataset(session: Any, run_dir: Path, data: Path | None) -> tuple[Any, str]:
    from nncli.data.checks import check_targets
    from nncli.data.sources import load_file

    r = session.resolved
    if data is None:
        from nncli.train.run import attach_data

        attach_data(session, run_dir)
        ds = session.splits.validation
        if ds is None:
            raise SpecError("this run has no validation data; pass --data FILE", "--data")
        return ds, "validation data"
    from nncli.artifacts import RunReader
    from nncli.data.preprocess import Preprocessing

    prep = Preprocessing.from_json(RunReader(run_dir).preprocessing())
    ds = load_file(str(Path(data).resolve()), r["data"], Path.cwd(), prep, "evaluation")
    last = session.model.network.layers[-1]
    ds = check_targets(ds, session.target_kind, session.units,
                       getattr(last, "activation_name", "linear"), r["loss"]["type"])
    return ds, str(data)


def evaluate_run(run_dir: Path, data: Path | None = None) -> dict[str, Any]:
    """Loss and metrics of a run's weights on its validation data or `data`."""
    from nncli.data.batches import Batches
    from nncli.train.loop import evaluate

    run_dir = Path(run_dir)
    session = session_from_run(run_dir)
    ds, label = _dataset(session, run_dir, data)
    batches = Batches(ds.x, ds.y, session.resolved["batch_size"], session.backend)
    metrics = evaluate(session.model, batches, session.make_metrics)
    return {"run": str(run_dir), "data": label, "samples": len(ds.x), "metrics": metrics}


def predict_run(run_dir: Path, data: Path) -> dict[str, Any]:
    """Model outputs for every row of `data` (targets, if present, are ignored)."""
    from nncli.artifacts import RunReader
    from nncli.data.preprocess import Preprocessing
    from nncli.data.sources import load_file

    run_dir = Path(run_dir)
    session = session_from_run(run_dir)
    prep = Preprocessing.from_json(RunReader(run_dir).preprocessing())
    ds = load_file(str(Path(data).resolve()), session.resolved["data"], Path.cwd(), prep,
                   "prediction", target_required=False)
    out = []
    bs = session.resolved["batch_size"]
    for start in range(0, len(ds.x), bs):
        xb = session.backend.asarray(ds.x[start:start + bs])
        pred = session.backend.to_numpy(session.model.predict(xb)).astype(np.float64)
        for row in pred.reshape(len(pred), -1):
            item: dict[str, Any] = {"output": [float(v) for v in row]}
            if prep.classes:
                idx = int(row.argmax()) if len(row) > 1 else int(row[0] > _cut(session))
                item["label"] = prep.classes[idx]
            out.append(item)
    return {"run": str(run_dir), "data": str(data), "predictions": out}


def _cut(session: Any) -> float:
    return 0.0 if session.model.outputs_logits else 0.5
