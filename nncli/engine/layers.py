"""Layers: Dense, Activation, Dropout, Flatten (Keras names and defaults).

A layer keeps `params` and `grads` (dicts of backend arrays with equal keys and
shapes). `forward(x, training)` returns the output and an explicit cache;
`backward(dy, cache)` overwrites `grads` and returns dx, so nothing needs
zeroing between steps. Layers that end in an activation keep the
pre-activation `z` in their cache and offer `backward_from_logits(dz, cache)`,
which lets a cross-entropy loss absorb the final sigmoid/softmax (see losses).
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple, Union

import numpy as np
from pydantic import Field

from nncli.engine.activations import Activation as ActivationFn
from nncli.engine.activations import activations
from nncli.engine.backend import Backend
from nncli.engine.constraints import constraints
from nncli.engine.initializers import initializers
from nncli.engine.regularizers import regularizers
from nncli.registry import Registry, StrictModel, named

SUM_ROWS_GEMV = 256  # rows from which sum_rows is a GEMV

layers: Registry[type[Layer]] = Registry("layer")

Shape = tuple[int, ...]
# A named thing in its short form ("relu") or long form ({type: relu, ...}).
Named = Union[str, dict]
ActivationRef = named(activations)
InitializerRef = named(initializers)
RegularizerRef = named(regularizers)
ConstraintRef = named(constraints)


class Layer:
    """Base layer: no parameters, identity shapes.

    Beside params and grads a layer may hold `regularizers` and `constraints`
    (by parameter name) and an `activity_regularizer` on its output, which it
    then keeps in its cache as `cache.y` (see `Sequential`).
    """

    class Config(StrictModel):
        type: str

    # May `pack_parameters` make params and grads views into shared flat
    # buffers? Only for layers that update both in place, never rebinding them.
    packable = False

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}
        self.grads: dict[str, Any] = {}
        self.regularizers: dict[str, Any] = {}
        self.constraints: dict[str, Any] = {}
        self.activity_regularizer: Any = None
        self.xp: Any = np
        self.dtype: Any = np.float32

    def build(
        self, in_shape: Shape, backend: Backend, rng: np.random.Generator
    ) -> Shape:
        self.xp, self.dtype = backend.xp, backend.dtype
        return in_shape

    def forward(self, x: Any, training: bool = False) -> tuple[Any, Any]:
        raise NotImplementedError

    def backward(self, dy: Any, cache: Any, need_dx: bool = True) -> Any:
        """Overwrite `grads` and return dx (None allowed when not `need_dx`)."""
        raise NotImplementedError

    def get_config(self) -> dict:
        raise NotImplementedError


class ActCache(NamedTuple):
    x: Any  # the layer input
    z: Any  # pre-activation
    y: Any  # output


@layers.register("dense")
class Dense(Layer):
    """y = activation(x @ kernel + bias).

    Defaults from Keras: kernel glorot_uniform, bias zeros, linear activation.
    Inputs of rank > 2 are contracted on the last axis, as in Keras.
    Constraints project the weights after each optimizer step; the activity
    regularizer penalises the output y (after the activation) divided by the
    batch size, as Keras 3 does.
    """

    packable = True

    class Config(StrictModel):
        type: Literal["dense"] = "dense"
        units: int = Field(gt=0, le=1_000_000)
        activation: ActivationRef = "linear"
        use_bias: bool = True
        kernel_initializer: InitializerRef = "glorot_uniform"
        bias_initializer: InitializerRef = "zeros"
        kernel_regularizer: RegularizerRef | None = None
        bias_regularizer: RegularizerRef | None = None
        activity_regularizer: RegularizerRef | None = Field(
            None, description="Penalty on the output, divided by the batch size."
        )
        kernel_constraint: ConstraintRef | None = Field(
            None, description="Projection of the kernel after each update."
        )
        bias_constraint: ConstraintRef | None = Field(
            None, description="Projection of the bias after each update."
        )

    def __init__(
        self,
        units: int,
        activation: Named = "linear",
        use_bias: bool = True,
        kernel_initializer: Named = "glorot_uniform",
        bias_initializer: Named = "zeros",
        kernel_regularizer: Named | None = None,
        bias_regularizer: Named | None = None,
        activity_regularizer: Named | None = None,
        kernel_constraint: Named | None = None,
        bias_constraint: Named | None = None,
    ) -> None:
        super().__init__()
        self.units, self.use_bias = units, use_bias
        self._config = dict(
            units=units,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
        )
        self.activation: ActivationFn = activations.create(activation)
        self.activation_name = activations.canonical(_type_of(activation))
        for name, reg in (("kernel", kernel_regularizer), ("bias", bias_regularizer)):
            if reg is not None and (name == "kernel" or use_bias):
                self.regularizers[name] = regularizers.create(reg)
        for name, con in (("kernel", kernel_constraint), ("bias", bias_constraint)):
            if con is not None and (name == "kernel" or use_bias):
                self.constraints[name] = constraints.create(con)
        if activity_regularizer is not None:
            self.activity_regularizer = regularizers.create(activity_regularizer)

    def build(
        self, in_shape: Shape, backend: Backend, rng: np.random.Generator
    ) -> Shape:
        super().build(in_shape, backend, rng)
        n_in = in_shape[-1]
        kernel_init = initializers.create(self._config["kernel_initializer"])
        self.params = {"kernel": backend.asarray(kernel_init(rng, (n_in, self.units)))}
        if self.use_bias:
            bias_init = initializers.create(self._config["bias_initializer"])
            self.params["bias"] = backend.asarray(bias_init(rng, (self.units,)))
        for name, con in self.constraints.items():
            con.check_rank(self.params[name].ndim, f"{name}_constraint")
        self.grads = {k: self.xp.zeros_like(v) for k, v in self.params.items()}
        return (*in_shape[:-1], self.units)

    def forward(self, x: Any, training: bool = False) -> tuple[Any, ActCache]:
        z = x @ self.params["kernel"]  # (batch, ..., units)
        if self.use_bias:
            z += self.params["bias"]  # in place: z is a new array
        y = self.activation.forward(z)
        return y, ActCache(x, z, y)

    def backward(self, dy: Any, cache: ActCache, need_dx: bool = True) -> Any:
        dz = self.activation.backward(dy, cache.z, cache.y)
        return self.backward_from_logits(dz, cache, need_dx)

    def backward_from_logits(
        self, dz: Any, cache: ActCache, need_dx: bool = True
    ) -> Any:
        x = cache.x
        n_in = x.shape[-1]
        x2 = x.reshape(-1, n_in)  # (batch*..., n_in)
        dz2 = dz.reshape(-1, self.units)  # (batch*..., units)
        self.xp.matmul(x2.T, dz2, out=self.grads["kernel"])  # no temporary
        if self.use_bias:
            sum_rows(self.xp, dz2, self.grads["bias"])
        if not need_dx:  # the first layer's input gradient is a wasted GEMM
            return None
        return dz @ self.params["kernel"].T  # (batch, ..., n_in)

    def get_config(self) -> dict:
        return {"type": "dense", **self._config}


@layers.register("activation")
class Activation(Layer):
    """y = activation(x), as a layer of its own."""

    class Config(StrictModel):
        type: Literal["activation"] = "activation"
        activation: ActivationRef

    def __init__(self, activation: Named) -> None:
        super().__init__()
        self._activation_cfg = activation
        self.activation: ActivationFn = activations.create(activation)
        self.activation_name = activations.canonical(_type_of(activation))

    def forward(self, x: Any, training: bool = False) -> tuple[Any, ActCache]:
        y = self.activation.forward(x)
        return y, ActCache(x, x, y)

    def backward(self, dy: Any, cache: ActCache, need_dx: bool = True) -> Any:
        return self.activation.backward(dy, cache.z, cache.y)

    def backward_from_logits(
        self, dz: Any, cache: ActCache, need_dx: bool = True
    ) -> Any:
        return dz

    def get_config(self) -> dict:
        return {"type": "activation", "activation": self._activation_cfg}


@layers.register("dropout")
class Dropout(Layer):
    """Inverted dropout: zero units with probability `rate` in training only.

    Kept units are scaled by 1/(1-rate); inference is the identity (Keras).

    The mask is drawn on the host from the layer's own Generator (seeded at
    build from the model's rng), so a seed gives the same masks on any backend.
    """

    keras_difference = (
        "Masks come from nncli's seeded generator (the same on every backend), "
        "not Keras's RNG: equal in distribution, not in values."
    )

    class Config(StrictModel):
        type: Literal["dropout"] = "dropout"
        rate: float = Field(ge=0.0, lt=1.0)
        seed: int | None = Field(None, ge=0)

    def __init__(self, rate: float, seed: int | None = None) -> None:
        super().__init__()
        self.rate, self.seed = rate, seed
        self.rng: np.random.Generator | None = None

    def build(
        self, in_shape: Shape, backend: Backend, rng: np.random.Generator
    ) -> Shape:
        super().build(in_shape, backend, rng)
        self.backend = backend
        seed = self.seed if self.seed is not None else int(rng.integers(2**63))
        self.rng = np.random.default_rng(seed)
        return in_shape

    def forward(self, x: Any, training: bool = False) -> tuple[Any, Any]:
        if not training or self.rate == 0.0:
            return x, None
        keep = self.rng.random(x.shape) >= self.rate  # host draw, see docstring
        mask = self.backend.asarray(keep, dtype=x.dtype) / (1.0 - self.rate)
        return x * mask, mask

    def backward(self, dy: Any, cache: Any, need_dx: bool = True) -> Any:
        return dy if cache is None else dy * cache

    def get_config(self) -> dict:
        return {"type": "dropout", "rate": self.rate, "seed": self.seed}


@layers.register("flatten")
class Flatten(Layer):
    """Collapse every axis but the batch axis, row-major (C order) like Keras."""

    class Config(StrictModel):
        type: Literal["flatten"] = "flatten"

    def build(
        self, in_shape: Shape, backend: Backend, rng: np.random.Generator
    ) -> Shape:
        super().build(in_shape, backend, rng)
        return (int(np.prod(in_shape)),)

    def forward(self, x: Any, training: bool = False) -> tuple[Any, Any]:
        return x.reshape(x.shape[0], -1), x.shape

    def backward(self, dy: Any, cache: Any, need_dx: bool = True) -> Any:
        return dy.reshape(cache)

    def get_config(self) -> dict:
        return {"type": "flatten"}


def sum_rows(xp: Any, a2: Any, out: Any) -> Any:
    """out[...] = a2.sum(axis=0) for a 2-D a2 (a bias gradient).

    A tall array goes through BLAS as ones @ a2: about 4x faster than numpy's
    axis-0 reduction (43,264 x 32 float32: 0.2 vs 0.8 ms, 2 threads); the
    sum's order differs, so it may differ by rounding.
    """
    if a2.shape[0] < SUM_ROWS_GEMV:
        return a2.sum(axis=0, out=out)
    return xp.matmul(xp.ones(a2.shape[0], dtype=a2.dtype), a2, out=out)


def pack_parameters(layer_list: list[Layer]) -> None:
    """Move every packable layer's params, and its grads, into one flat buffer each.

    Each entry becomes a view into its buffer (values kept), so the optimizer
    updates all of them with a few whole-buffer operations instead of a
    Python loop over tensors (see `Optimizer.step`). Nothing is packed unless
    every layer with parameters is packable and they share one dtype.
    """
    owners = [layer for layer in layer_list if layer.params]
    if not owners or not all(layer.packable for layer in owners):
        return
    arrays = [p for layer in owners for p in layer.params.values()]
    if len({p.dtype for p in arrays}) != 1:
        return
    xp, total = owners[0].xp, sum(int(p.size) for p in arrays)
    for kind in ("params", "grads"):
        flat = xp.empty(total, dtype=arrays[0].dtype)  # (n_params,)
        offset = 0
        for layer in owners:
            entries = getattr(layer, kind)
            for name in layer.params:  # grads follow the params' order
                a = entries[name]
                view = flat[offset : offset + a.size].reshape(a.shape)
                view[...] = a
                entries[name] = view
                offset += a.size


def _type_of(named: Named) -> str:
    return named if isinstance(named, str) else named["type"]
