"""Finite-difference gradient checks for layers, activations and losses.

Every check works in float64 with central differences,
(f(x + eps e_i) - f(x - eps e_i)) / (2 eps), on the scalar f = sum(y * dy) for
a random upstream gradient `dy` (so every output element matters with a
different weight), and compares with the analytic backward pass elementwise:
|analytic - numeric| <= atol + rtol * |numeric|. `directions=k` swaps the
elementwise sweep for k random directional derivatives (cheap for big arrays).

Failures raise `GradientCheckError` (an AssertionError) naming the array, the
worst element and both values; success returns the worst error per array.
Used by the test suite and importable by anyone writing a layer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from nncli.engine.backend import get_array_module


class GradientCheckError(AssertionError):
    """An analytic gradient disagrees with its finite-difference estimate."""


def _require_float64(name: str, a: Any) -> None:
    if a.dtype != np.float64:
        raise ValueError(f"gradient checks need float64 arrays; {name} is {a.dtype}")


def _numeric_grad(f: Callable[[], float], a: Any, eps: float) -> Any:
    """d f / d a by central differences, perturbing `a` in place and restoring it."""
    g = np.zeros(a.shape)
    for i in np.ndindex(*a.shape):  # indexes `a` itself, whatever its strides
        old = a[i].item()
        a[i] = old + eps
        f_plus = f()
        a[i] = old - eps
        f_minus = f()
        a[i] = old
        g[i] = (f_plus - f_minus) / (2 * eps)
    return g


def _directional(
    f: Callable[[], float],
    arrays: dict[str, Any],
    analytic: dict[str, Any],
    eps: float,
    rng: np.random.Generator,
) -> tuple[float, float]:
    """(numeric, analytic) derivative of f along one random direction of all arrays."""
    xp = get_array_module(next(iter(arrays.values())))
    dirs = {k: xp.asarray(rng.standard_normal(a.shape)) for k, a in arrays.items()}
    originals = {k: a.copy() for k, a in arrays.items()}

    def shifted(sign: float) -> float:
        for k, a in arrays.items():
            a[...] = originals[k] + sign * eps * dirs[k]
        return f()

    f_plus, f_minus = shifted(1.0), shifted(-1.0)
    for k, a in arrays.items():
        a[...] = originals[k]
    numeric = (f_plus - f_minus) / (2 * eps)
    exact = sum(float(xp.sum(analytic[k] * dirs[k])) for k in arrays)
    return numeric, exact


def _compare(name: str, analytic: Any, numeric: Any, atol: float, rtol: float) -> float:
    """Worst |analytic - numeric|; raise GradientCheckError beyond tolerance."""
    a, n = _host(analytic), _host(numeric)
    if a.shape != n.shape:
        raise GradientCheckError(
            f"{name}: analytic gradient shape {a.shape}, expected {n.shape}"
        )
    err = np.abs(a - n)
    excess = err - (atol + rtol * np.abs(n))
    bad = ~np.isfinite(a) | ~np.isfinite(n) | (excess > 0)
    if bad.any():
        score = np.where(np.isfinite(a) & np.isfinite(n), excess, np.inf)
        i = np.unravel_index(int(np.argmax(score)), a.shape)
        raise GradientCheckError(
            f"{name}: analytic {a[i]!r} vs numeric {n[i]!r} at index {i} "
            f"(abs err {err[i]:.3g}, atol {atol:g}, rtol {rtol:g})"
        )
    return float(err.max()) if err.size else 0.0


def _host(a: Any) -> np.ndarray:
    xp = get_array_module(a)
    return np.asarray(a) if xp is np else xp.asnumpy(a)


def check_layer(
    layer: Any,
    x: Any,
    *,
    training: bool = False,
    before_forward: Callable[[], None] | None = None,
    seed: int = 0,
    eps: float = 1e-6,
    atol: float = 1e-6,
    rtol: float = 1e-5,
    directions: int | None = None,
) -> dict[str, float]:
    """Check `layer.backward` for dx and every parameter against central differences.

    Args:
        layer: a built layer whose params are float64 backend arrays.
        x: float64 input batch on the same backend.
        training: passed to `forward` (e.g. Dropout in training mode).
        before_forward: called before every forward pass, e.g. to re-seed a
            Dropout rng so each evaluation sees the same mask.
        seed: seeds the upstream gradient dy and any random directions.
        eps, atol, rtol: step and tolerances of the comparison.
        directions: None for the full elementwise sweep, or a number of random
            directional checks over x and all parameters together.

    Also checks that backward overwrites (never accumulates into) `grads` and
    leaves `x` unchanged. Returns the worst absolute error per array ("dx" and
    each parameter name).
    """
    _require_float64("x", x)
    for name, p in layer.params.items():
        _require_float64(f"param {name!r}", p)
    xp = get_array_module(x)
    rng = np.random.default_rng(seed)
    x = x.copy()
    x_before = x.copy()

    def run() -> tuple[Any, Any]:
        if before_forward is not None:
            before_forward()
        return layer.forward(x, training=training)

    y, cache = run()
    dy = xp.asarray(rng.standard_normal(y.shape))
    dx = layer.backward(dy, cache)
    grads = {k: g.copy() for k, g in layer.grads.items()}
    if not bool(xp.array_equal(x, x_before)):
        raise GradientCheckError("forward/backward modified the input x in place")
    _, cache2 = run()
    layer.backward(dy, cache2)
    for k, g in layer.grads.items():
        if not bool(xp.array_equal(g, grads[k])):
            raise GradientCheckError(
                f"grad {k!r} changed on a second identical backward: backward must "
                f"overwrite grads, not accumulate into them"
            )

    def f() -> float:
        return float(xp.sum(run()[0] * dy))

    analytic = {"dx": dx, **{k: grads[k] for k in layer.params}}
    arrays = {"dx": x, **layer.params}
    return _check_arrays(f, arrays, analytic, eps, atol, rtol, directions, rng)


def _check_arrays(
    f: Callable[[], float],
    arrays: dict[str, Any],
    analytic: dict[str, Any],
    eps: float,
    atol: float,
    rtol: float,
    directions: int | None,
    rng: np.random.Generator,
) -> dict[str, float]:
    if directions is None:
        return {
            k: _compare(k, analytic[k], _numeric_grad(f, a, eps), atol, rtol)
            for k, a in arrays.items()
        }
    worst = 0.0
    for i in range(directions):
        numeric, exact = _directional(f, arrays, analytic, eps, rng)
        worst = max(worst, _compare(f"direction {i}", exact, numeric, atol, rtol))
    return {"directional": worst}


def check_activation(
    activation: Any,
    x: Any,
    *,
    seed: int = 0,
    eps: float = 1e-6,
    atol: float = 1e-6,
    rtol: float = 1e-5,
) -> float:
    """Check `activation.backward(dy, x, y)` against central differences of forward."""
    _require_float64("x", x)
    xp = get_array_module(x)
    rng = np.random.default_rng(seed)
    x = x.copy()
    y = activation.forward(x)
    dy = xp.asarray(rng.standard_normal(y.shape))
    dx = activation.backward(dy, x, y)

    def f() -> float:
        return float(xp.sum(activation.forward(x) * dy))

    return _compare("dx", dx, _numeric_grad(f, x, eps), atol, rtol)


def check_loss(
    loss: Any,
    pred: Any,
    target: Any,
    weights: Any = None,
    *,
    eps: float = 1e-6,
    atol: float = 1e-6,
    rtol: float = 1e-5,
) -> float:
    """Check `loss.backward(cache)` = d loss / d pred against central differences."""
    _require_float64("pred", pred)
    pred = pred.copy()
    value, cache = loss.forward(pred, target, weights)
    if value.shape != ():
        raise GradientCheckError(f"loss value has shape {value.shape}, expected ()")
    dpred = loss.backward(cache)

    def f() -> float:
        return float(loss.forward(pred, target, weights)[0])

    return _compare("dpred", dpred, _numeric_grad(f, pred, eps), atol, rtol)
