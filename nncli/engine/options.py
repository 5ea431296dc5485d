"""Per-parameter options shared by the normalisation, embedding and recurrent layers.

Keras names a parameter's options by a prefix: `kernel` has
`kernel_initializer`, `kernel_regularizer` and `kernel_constraint`. A layer
lists its parameters' prefixes and these helpers turn the validated config
into initialisers, regularizers and constraints.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nncli.engine.backend import Backend
from nncli.engine.constraints import constraints
from nncli.engine.initializers import initializers
from nncli.engine.regularizers import regularizers

ACTIVITY_DOC = "Penalty on the output, divided by the batch size."


def attach_penalties(layer: Any, cfg: dict, prefixes: dict[str, str]) -> None:
    """Fill `layer.regularizers` / `layer.constraints` / `activity_regularizer`.

    `prefixes` maps each parameter the layer has to its option prefix.
    """
    for param, prefix in prefixes.items():
        reg = cfg.get(f"{prefix}_regularizer")
        if reg is not None:
            layer.regularizers[param] = regularizers.create(reg)
        con = cfg.get(f"{prefix}_constraint")
        if con is not None:
            layer.constraints[param] = constraints.create(con)
    if cfg.get("activity_regularizer") is not None:
        layer.activity_regularizer = regularizers.create(cfg["activity_regularizer"])


def draw(
    cfg: dict, prefix: str, shape: tuple[int, ...], rng: np.random.Generator
) -> np.ndarray:
    """A host float64 draw of `<prefix>_initializer` (always draws, keeping rng order)."""
    return initializers.create(cfg[f"{prefix}_initializer"])(rng, shape)


def finish(layer: Any, backend: Backend, prefixes: dict[str, str]) -> None:
    """Check constraint axes against the weights and allocate the grads."""
    for name, con in layer.constraints.items():
        con.check_rank(layer.params[name].ndim, f"{prefixes[name]}_constraint")
    layer.grads = {k: backend.xp.zeros_like(v) for k, v in layer.params.items()}
