"""Where did training go non-finite? A deterministic replay, run only on failure.

Training checks one number per step (the loss). When it turns NaN or
infinite, `replay` restores the last checkpoint's state (weights, optimizer,
every random generator) and repeats the steps up to the failing one with full
checks after each stage: the layer outputs, the loss, every gradient, every
updated weight. The replay draws the same batches and dropout masks, so it
finds the first non-finite value, where it was and the gradient norms of
that step, at no cost to training that goes well.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nncli.train import checkpoint


@dataclass
class Finding:
    epoch: int
    step: int
    what: str  # "the output of layer 2 (dense) was not finite", ...
    last_finite_loss: float | None
    grad_norms: dict[str, float] = field(default_factory=dict)
    batch: str = "batch"  # or "validation batch"
    norms_label: str = "gradient norms"

    def describe(self) -> str:
        where = f", {self.batch} {self.step}" if self.step else ""
        text = f"it began at epoch {self.epoch}{where}: {self.what}"
        return text + describe_norms(self.grad_norms, self.norms_label)


def describe_norms(norms: dict[str, float], what: str = "gradient norms") -> str:
    """' (gradient norms: layers.0.kernel 1.2, ...)', or '' for none."""
    text = ", ".join(f"{k} {v:.3g}" for k, v in norms.items())
    return f" ({what}: {text})" if text else ""


def grad_norms(network: Any) -> dict[str, float]:
    """The norm of every gradient as it is now (the last step's)."""
    be = network.backend
    return {k: _norm(be, g) for k, g in network.grads().items()}


def _finite(backend: Any, a: Any) -> bool:
    return bool(np.isfinite(backend.to_numpy(a)).all())


def _norm(backend: Any, a: Any) -> float:
    v = backend.to_numpy(a).astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.sqrt((v * v).sum()))


def replay(
    model: Any,
    batches: Any,
    shuffle_rng: np.random.Generator | None,
    state: checkpoint.TrainingState,
    callbacks: list[Any],
    epoch: int,
    step: int,
) -> Finding | None:
    """Re-run epoch `epoch` up to batch `step` from `state` (the end of epoch
    `epoch - 1`), checking everything; None if nothing non-finite turns up
    (the failure did not reproduce)."""
    with np.errstate(all="ignore"):  # overflow is what we are looking for
        return _replay(model, batches, shuffle_rng, state, callbacks, epoch, step)


def _replay(model, batches, shuffle_rng, state, callbacks, epoch, step):
    checkpoint.restore(state, model, shuffle_rng, callbacks)
    net, be = model.network, model.network.backend
    gens = list(checkpoint.generators(model, None).values())  # dropout masks
    last: float | None = None
    for i, batch in enumerate(batches.epoch(), 1):
        if i > step:
            break
        x, y, *rest = batch

        def found(what: str, norms: bool = False) -> Finding:
            grads = grad_norms(net) if norms else {}
            return Finding(epoch, i, what, last, grads)  # noqa: B023

        saved = [g.bit_generator.state for g in gens]
        h = x
        for j, layer in enumerate(net.layers):
            h, _ = layer.forward(h, training=True)
            if not _finite(be, h):
                kind = layer.get_config()["type"]
                return found(f"the output of layer {j} ({kind}) was not finite")
        for g, s in zip(gens, saved):
            g.bit_generator.state = s  # the real step draws the same masks
        loss, _ = model.compute_gradients(x, y, *rest)
        value = float(loss)
        if not math.isfinite(value):
            return found(f"the loss was {value}", norms=True)
        for name, g in net.grads().items():
            if not _finite(be, g):
                return found(f"the gradient of {name} was not finite", norms=True)
        model.optimizer.step(net.params(), net.grads())
        net.apply_constraints()
        for name, p in net.params().items():
            if not _finite(be, p):
                return found(f"{name} was not finite after the update", norms=True)
        last = value
    return None


def validation(model: Any, batches: Any, epoch: int) -> Finding | None:
    """Where the validation loss of epoch `epoch` went non-finite: the first
    validation batch whose layer output or loss is not finite, with the
    gradient norms of the last training step (None if nothing turns up)."""
    with np.errstate(all="ignore"):
        return _validation(model, batches, epoch)


def _validation(model: Any, batches: Any, epoch: int) -> Finding | None:
    net, be = model.network, model.network.backend
    norms = grad_norms(net)

    def found(step: int, what: str) -> Finding:
        label = "gradient norms of the last training batch"
        return Finding(epoch, step, what, None, norms, "validation batch", label)

    for i, (x, y, w) in enumerate(batches.epoch(), 1):
        h = x
        for j, layer in enumerate(net.layers):
            h, _ = layer.forward(h, training=False)
            if not _finite(be, h):
                kind = layer.get_config()["type"]
                return found(i, f"the output of layer {j} ({kind}) was not finite")
        per_sample, _ = model.evaluate_step(x, y, w)
        if not _finite(be, per_sample):
            return found(i, "every layer output was finite, the loss was not")
        if not math.isfinite(float(per_sample.sum())):
            largest = float(be.to_numpy(per_sample).max())
            what = (
                "the sum of its sample losses overflowed (the largest was "
                f"{largest:.3g})"
            )
            return found(i, what)
    penalty = float(net.regularization())
    if not math.isfinite(penalty):
        return found(0, f"the weight penalty was {penalty}")
    return None
