"""Training state: everything a resumed run needs, in one safetensors file.

A checkpoint holds the weights, the optimizer's slots and step count, its
current learning rate, every random generator the training draws from (the
shuffle order and each Dropout layer's masks), each callback's state, and
the number of finished epochs. Restoring it into a freshly built session and
training on gives the same bytes as a run that never stopped.

Arrays are stored as tensors under `weights/`, `optimizer/` and
`callbacks/<i>/...`; everything else is one JSON document in the file's
metadata (one key, so identical states give identical bytes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

FORMAT = 1
META_KEY = "nncli-training-state"


@dataclass
class TrainingState:
    epoch: int  # finished epochs
    weights: dict[str, np.ndarray]
    optimizer: dict[str, Any]  # Optimizer.state_dict() with host arrays
    learning_rate: float
    rngs: dict[str, dict[str, Any]]  # name -> numpy bit_generator.state
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)  # free-form, JSON


def generators(model: Any, shuffle_rng: np.random.Generator | None) -> dict[str, Any]:
    """Every numpy Generator the training draws from, by a stable name."""
    out: dict[str, np.random.Generator] = {}
    if shuffle_rng is not None:
        out["shuffle"] = shuffle_rng
    for i, layer in enumerate(model.network.layers):
        rng = getattr(layer, "rng", None)
        if isinstance(rng, np.random.Generator):
            out[f"layers.{i}"] = rng
    return out


def capture(
    model: Any,
    epoch: int,
    shuffle_rng: np.random.Generator | None,
    callbacks: list[Any] = (),
    info: dict[str, Any] | None = None,
) -> TrainingState:
    """A host copy of the whole training state after `epoch` finished epochs."""
    to_numpy = model.network.backend.to_numpy
    opt = model.optimizer.state_dict()
    opt = {**opt, "slots": {k: np.array(to_numpy(v)) for k, v in opt["slots"].items()}}
    return TrainingState(
        epoch=epoch,
        weights=model.network.get_weights(),
        optimizer=opt,
        learning_rate=float(model.optimizer.learning_rate),
        rngs={
            name: rng.bit_generator.state
            for name, rng in generators(model, shuffle_rng).items()
        },
        callbacks=[cb.state_dict() for cb in callbacks],
        info=dict(info or {}),
    )


def restore(
    state: TrainingState,
    model: Any,
    shuffle_rng: np.random.Generator | None,
    callbacks: list[Any] = (),
) -> None:
    """Put `state` into a model built from the same spec (names must match)."""
    model.network.set_weights(state.weights, source="checkpoint")
    model.optimizer.load_state_dict(state.optimizer)
    model.optimizer.learning_rate = state.learning_rate
    gens = generators(model, shuffle_rng)
    if set(gens) != set(state.rngs):
        raise ValueError(
            f"checkpoint random generators {sorted(state.rngs)} do not match the "
            f"model's {sorted(gens)}"
        )
    for name, rng in gens.items():
        rng.bit_generator.state = state.rngs[name]
    if len(callbacks) != len(state.callbacks):
        raise ValueError(
            f"checkpoint has {len(state.callbacks)} callback states, the spec "
            f"has {len(callbacks)} callbacks"
        )
    for i, (cb, cb_state) in enumerate(zip(callbacks, state.callbacks)):
        try:
            cb.load_state_dict(cb_state)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(
                f"checkpoint callback state {i} does not fit callbacks[{i}] "
                f"({type(cb).__name__}): {e!r}"
            ) from e


def to_bytes(state: TrainingState) -> bytes:
    from safetensors.numpy import save

    arrays: dict[str, np.ndarray] = {}
    for k, v in state.weights.items():
        arrays[f"weights/{k}"] = v
    for k, v in state.optimizer["slots"].items():
        arrays[f"optimizer/{k}"] = v
    doc = {
        "format": FORMAT,
        "epoch": state.epoch,
        "learning_rate": state.learning_rate,
        "optimizer": {k: v for k, v in state.optimizer.items() if k != "slots"},
        "rngs": state.rngs,
        "callbacks": [
            _pack(cb, f"callbacks/{i}", arrays) for i, cb in enumerate(state.callbacks)
        ],
        "info": state.info,
    }
    # np.array(order="C"), not ascontiguousarray, which turns 0-d into 1-d
    arrays = {k: np.array(v, order="C") for k, v in arrays.items()}
    meta = json.dumps(doc, sort_keys=True, allow_nan=True, default=_scalar)
    return save(arrays, metadata={META_KEY: meta})


def from_bytes(data: bytes) -> TrainingState:
    """Parse a checkpoint; ValueError (with the reason) if it is not one."""
    from safetensors import SafetensorError
    from safetensors.numpy import load

    try:
        arrays = load(data)
        meta = _metadata(data)
    except (SafetensorError, ValueError, KeyError) as e:
        raise ValueError(f"not an nncli checkpoint ({e})") from e
    if META_KEY not in meta:
        raise ValueError("not an nncli checkpoint (no training state)")
    try:
        doc = json.loads(meta[META_KEY])
        if doc.get("format") != FORMAT:
            raise ValueError(f"checkpoint format {doc.get('format')} is not {FORMAT}")
        return TrainingState(
            epoch=int(doc["epoch"]),
            weights=_under(arrays, "weights/"),
            optimizer={**doc["optimizer"], "slots": _under(arrays, "optimizer/")},
            learning_rate=float(doc["learning_rate"]),
            rngs=doc["rngs"],
            callbacks=[_unpack(cb, arrays) for cb in doc["callbacks"]],
            info=doc["info"],
        )
    except (AttributeError, KeyError, TypeError) as e:  # a damaged training state
        raise ValueError(f"damaged training state ({e!r})") from e


def _metadata(data: bytes) -> dict[str, str]:
    """The `__metadata__` map of a safetensors blob (the header is JSON)."""
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    return header.get("__metadata__", {})


def _under(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}


def _pack(value: Any, path: str, arrays: dict[str, np.ndarray]) -> Any:
    """JSON for `value`, its arrays moved to `arrays` and left as references."""
    if isinstance(value, np.ndarray):
        arrays[path] = value
        return {"__array__": path}
    if isinstance(value, dict):
        return {k: _pack(v, f"{path}/{k}", arrays) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_pack(v, f"{path}/{i}", arrays) for i, v in enumerate(value)]
    return value


def _unpack(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__array__"}:
            return arrays[value["__array__"]]
        return {k: _unpack(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_unpack(v, arrays) for v in value]
    return value


def _scalar(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
