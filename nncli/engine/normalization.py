"""BatchNormalization and LayerNormalization (Keras 3 names, defaults and math).

Both normalise x to xhat = (x - mean) / sqrt(var + epsilon), with the biased
(population) variance, and return gamma * xhat + beta. BatchNormalization
takes mean and var over every axis but `axis` (the channels) from the batch in
training and from its moving statistics at inference; LayerNormalization
takes them over `axis` of each sample, in training and inference alike.

The backward pass of a normalisation over N values (per channel or per
sample), with g = dy * gamma, is dx = (g - mean(g) - xhat * mean(g * xhat)) /
sqrt(var + epsilon); at inference (fixed statistics) it is g / sqrt(var +
epsilon).
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import numpy as np
from pydantic import Field

from nncli.engine.backend import Backend
from nncli.engine.layers import (
    ConstraintRef,
    InitializerRef,
    Layer,
    RegularizerRef,
    layers,
)
from nncli.engine.options import attach_penalties, draw, finish
from nncli.registry import StrictModel

Shape = tuple[int, ...]
PREFIXES = {"gamma": "gamma", "beta": "beta"}


class NormCache(NamedTuple):
    xhat: Any  # normalised input, the shape of x
    inv: Any  # 1 / sqrt(var + epsilon), broadcastable to x
    batch_stats: bool  # statistics from this batch (their gradient counts)
    y: Any  # output


class _NormOptions(StrictModel):
    epsilon: float = Field(1e-3, gt=0.0, description="Added to the variance.")
    center: bool = Field(True, description="Learn an offset beta.")
    scale: bool = Field(True, description="Learn a scale gamma.")
    beta_initializer: InitializerRef = "zeros"
    gamma_initializer: InitializerRef = "ones"
    beta_regularizer: RegularizerRef | None = None
    gamma_regularizer: RegularizerRef | None = None
    beta_constraint: ConstraintRef | None = None
    gamma_constraint: ConstraintRef | None = None


def _axes(axis: int | list[int], rank: int, name: str) -> tuple[int, ...]:
    """Keras axis (counting the batch axis 0) -> sorted non-negative axes."""
    given = [axis] if isinstance(axis, int) else list(axis)
    out = sorted({a % rank for a in given if -rank <= a < rank})
    if len(out) != len(given) or 0 in out:
        raise ValueError(
            f"{name}: axis {axis} does not fit inputs of rank {rank} (batch axis "
            f"0 included); use -1 for the last axis"
        )
    return tuple(out)


class _Norm(Layer):
    """Shared parameters and affine part: y = gamma * xhat + beta."""

    NAME = ""
    packable = True  # grads written in place, params only read

    def __init__(self, **options: Any) -> None:
        super().__init__()
        self._config = self.Config(**options).model_dump(exclude={"type"})
        cfg = self._config
        self.epsilon, self.center, self.scale = (
            cfg["epsilon"],
            cfg["center"],
            cfg["scale"],
        )
        prefixes = {
            k: v
            for k, v in PREFIXES.items()
            if cfg[k == "gamma" and "scale" or "center"]
        }
        self.prefixes = prefixes
        attach_penalties(self, cfg, prefixes)

    def _build_affine(
        self, in_shape: Shape, backend: Backend, rng: np.random.Generator
    ) -> None:
        """gamma and beta over `self.axes`, and their broadcast shape."""
        rank = len(in_shape) + 1
        self.axes = _axes(self._config["axis"], rank, self.NAME)
        full = (None, *in_shape)
        self.param_shape = tuple(full[a] for a in self.axes)
        self.bshape = tuple(full[a] if a in self.axes else 1 for a in range(1, rank))
        self.params = {}
        if self.scale:
            w = draw(self._config, "gamma", self.param_shape, rng)
            self.params["gamma"] = backend.asarray(w)
        if self.center:
            w = draw(self._config, "beta", self.param_shape, rng)
            self.params["beta"] = backend.asarray(w)
        finish(self, backend, self.prefixes)

    def _affine(self, xhat: Any) -> Any:
        y = xhat
        if self.scale:
            y = y * self.params["gamma"].reshape(self.bshape)
        if self.center:
            y = y + self.params["beta"].reshape(self.bshape)
        return y

    def _backward(self, dy: Any, cache: NormCache, reduce: tuple[int, ...]) -> Any:
        """Fill gamma/beta grads (summed over every axis but self.axes); return dx.

        `reduce` are the axes the statistics were taken over.
        """
        xp = self.xp
        other = tuple(a for a in range(dy.ndim) if a not in self.axes)
        if self.scale:
            self.grads["gamma"][...] = (
                (dy * cache.xhat).sum(axis=other).reshape(self.param_shape)
            )
        if self.center:
            self.grads["beta"][...] = dy.sum(axis=other).reshape(self.param_shape)
        g = dy * self.params["gamma"].reshape(self.bshape) if self.scale else dy
        if not cache.batch_stats:
            return g * cache.inv
        mean_g = xp.mean(g, axis=reduce, keepdims=True)
        mean_gx = xp.mean(g * cache.xhat, axis=reduce, keepdims=True)
        return (g - mean_g - cache.xhat * mean_gx) * cache.inv

    def get_config(self) -> dict:
        return {"type": self.NAME, **self._config}


@layers.register("batch_normalization")
class BatchNormalization(_Norm):
    """Normalise each channel by batch statistics (training) or moving ones.

    Keras 3 defaults: axis -1, momentum 0.99, epsilon 1e-3, gamma ones, beta
    zeros, moving_mean zeros, moving_variance ones. In training the batch's
    mean and biased variance normalise x, and the moving statistics become
    moving * momentum + batch * (1 - momentum); at inference the moving
    statistics normalise x. The moving statistics are state, not parameters:
    saved with the weights (`layers.<i>.moving_mean`, `moving_variance`) and
    in checkpoints, never updated by the optimizer nor regularized, and
    counted as non-trainable parameters.
    """

    NAME = "batch_normalization"

    class Config(_NormOptions):
        type: Literal["batch_normalization"] = "batch_normalization"
        axis: int = Field(-1, description="The channel axis (counting the batch).")
        momentum: float = Field(0.99, ge=0.0, le=1.0)
        moving_mean_initializer: InitializerRef = "zeros"
        moving_variance_initializer: InitializerRef = "ones"

    def build(
        self, in_shape: Shape, backend: Backend, rng: np.random.Generator
    ) -> Shape:
        super().build(in_shape, backend, rng)
        self._build_affine(in_shape, backend, rng)
        self.state = {
            name: backend.asarray(draw(self._config, name, self.param_shape, rng))
            for name in ("moving_mean", "moving_variance")
        }
        self.reduce = tuple(a for a in range(len(in_shape) + 1) if a not in self.axes)
        return in_shape

    def forward(self, x: Any, training: bool = False) -> tuple[Any, NormCache]:
        xp = self.xp
        if training:
            mean = xp.mean(x, axis=self.reduce, keepdims=True)
            var = xp.mean(xp.square(x - mean), axis=self.reduce, keepdims=True)
            m = self._config["momentum"]
            for name, stat in (("moving_mean", mean), ("moving_variance", var)):
                s = self.state[name]
                s[...] = s * m + stat.reshape(self.param_shape) * (1.0 - m)
        else:
            mean = self.state["moving_mean"].reshape(self.bshape)
            var = self.state["moving_variance"].reshape(self.bshape)
        inv = 1.0 / xp.sqrt(var + self.epsilon)
        xhat = (x - mean) * inv
        y = self._affine(xhat)
        return y, NormCache(xhat, inv, training, y)

    def backward(self, dy: Any, cache: NormCache, need_dx: bool = True) -> Any:
        return self._backward(dy, cache, self.reduce)


@layers.register("layer_normalization")
class LayerNormalization(_Norm):
    """Normalise each sample over `axis` (default the last), Keras 3 defaults.

    epsilon 1e-3, gamma ones and beta zeros of the shape of the normalised
    axes. The same in training and inference.
    """

    NAME = "layer_normalization"

    class Config(_NormOptions):
        type: Literal["layer_normalization"] = "layer_normalization"
        axis: int | list[int] = Field(
            -1, description="Axis or axes to normalise over (counting the batch)."
        )

    def build(
        self, in_shape: Shape, backend: Backend, rng: np.random.Generator
    ) -> Shape:
        super().build(in_shape, backend, rng)
        self._build_affine(in_shape, backend, rng)
        return in_shape

    def forward(self, x: Any, training: bool = False) -> tuple[Any, NormCache]:
        xp = self.xp
        mean = xp.mean(x, axis=self.axes, keepdims=True)
        xc = x - mean
        var = xp.mean(xp.square(xc), axis=self.axes, keepdims=True)
        inv = 1.0 / xp.sqrt(var + self.epsilon)
        xhat = xc * inv
        y = self._affine(xhat)
        return y, NormCache(xhat, inv, True, y)

    def backward(self, dy: Any, cache: NormCache, need_dx: bool = True) -> Any:
        return self._backward(dy, cache, self.axes)
