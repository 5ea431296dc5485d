"""Sessions from a spec file or a run directory, and the model summary table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nncli import artifacts
from nncli.errors import RunError, SpecError
from nncli.train.run import Session, build_session, prepare


def session_for(
    target: Path, overrides: list[str] = (), load_data: bool = False
) -> Session:
    """A session built from a spec file, or from a run directory with its weights."""
    target = Path(target)
    if target.is_dir():
        return session_from_run(target, load_data=load_data)
    return prepare(target, overrides, load_data=load_data)


def session_from_run(run_dir: Path, load_data: bool = False) -> Session:
    """Rebuild a run's model from its resolved spec and load its saved weights."""
    from nncli.spec.load import SpecSource, validate
    from nncli.train.run import attach_data

    reader = artifacts.RunReader(run_dir)
    resolved_in = reader.spec()
    try:
        spec = validate(SpecSource(resolved_in, str(reader.dir / artifacts.SPEC)))
    except SpecError as e:  # the run's own file, not the user's input: damaged
        raise RunError(
            f"{reader.dir / artifacts.SPEC} is not a valid spec: {e.lines()[0]}"
        ) from e
    resolved = spec.model_dump(mode="json")
    resolved["name"] = resolved_in.get("name") or run_dir.name
    resolved["model"]["init_weights"] = None  # the run's own weights replace them
    session = build_session(resolved, reader.dir / artifacts.SPEC, reader.dir)
    weights = reader.weights()
    try:
        session.model.network.set_weights(
            weights, source=str(reader.dir / artifacts.WEIGHTS)
        )
    except ValueError as e:
        raise RunError(str(e)) from e
    broken = [k for k, v in weights.items() if not np.isfinite(v).all()]
    if broken:  # a damaged file: scoring it would pass gates on garbage
        raise RunError(
            f"{reader.dir / artifacts.WEIGHTS}: {broken[0]} holds NaN or "
            "infinite values"
        )
    if load_data:
        attach_data(session, reader.dir)
    return session


def model_table(session: Session) -> tuple[list[dict[str, Any]], int]:
    """One row per layer (name, type, output shape, params) and the total.

    `params` counts trainable and non-trainable numbers together, as Keras's
    summary does; `non_trainable` is the part training does not update
    (BatchNormalization's moving statistics).
    """
    net = session.model.network
    rows = []
    for i, (layer, shape, n, fixed) in enumerate(
        zip(net.layers, net.shapes, net.count_params(), net.count_non_trainable())
    ):
        cfg = layer.get_config()
        rows.append(
            {
                "name": f"layers.{i}",
                "type": cfg["type"],
                "output_shape": list(shape),
                "params": n,
                "non_trainable": fixed,
            }
        )
    return rows, sum(r["params"] for r in rows)
