"""Optimizers with Keras 3 names, defaults and update rules.

An optimizer updates a flat dict of parameters in place:
`step(params, grads)` where both dicts map the same keys
("layers.0.kernel", ...) to backend arrays of equal shape, and hold every
trainable parameter of the model (so the global gradient norm is known).
One step does what Keras's `apply_gradients` does, in its order:

1. clip the gradients (at most one of `clipnorm`, `clipvalue`,
   `global_clipnorm`);
2. decoupled weight decay, if `weight_decay` is set: w <- w - w wd lr, on
   every parameter (biases too), with the learning rate of this step;
3. the optimizer's own update, with t = iterations + 1;
4. iterations += 1.

State is created lazily in the parameters' array module and dtype and kept
in `slots`: "<param key>/<slot>" for per-parameter arrays (momentum, moving
averages), a bare name for optimizer-wide arrays (Nadam's "u_product").
`state_dict()` / `load_state_dict()` serialise everything needed to resume:
`{"iterations": int, "slots": {key: array}}`. `learning_rate` is a plain
attribute so schedules can change it between steps.

Reference framework: Keras 3 (`keras/src/optimizers/`). Not supported:
`use_ema`, `gradient_accumulation_steps`, `loss_scale_factor` and
`exclude_from_weight_decay`. A learning rate of 0 is allowed (it freezes the
weights). Scalars stay Python floats, so float32 arrays are never upcast.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, Discriminator, Field, Tag, model_validator

from nncli.engine.backend import get_array_module
from nncli.engine.schedules import Schedule, schedules
from nncli.registry import Registry, StrictModel, named

optimizers: Registry[type[Optimizer]] = Registry("optimizer")

CLIP_OPTIONS = ("clipnorm", "clipvalue", "global_clipnorm")

_LR = (
    "Step size: a number, or a schedule of the step count ({type: cosine_decay, ...})."
)


def _lr(default: float) -> Any:
    """The `learning_rate` field: a rate >= 0 or a learning-rate schedule."""
    return Field(default, description=_LR)


def _lr_kind(value: Any) -> str:
    named_schedule = isinstance(value, str) and value in schedules
    # a dict when validating, the schedule's Config when serialising
    mapping = isinstance(value, dict | BaseModel)
    return "<schedule>" if mapping or named_schedule else "<rate>"


# A number or a schedule; the tags (dropped from error paths) pick the branch
# from the value's type, so an error speaks of only the one that was meant.
LearningRate = Annotated[
    Annotated[float, Field(ge=0), Tag("<rate>")]
    | Annotated[named(schedules), Tag("<schedule>")],
    Discriminator(_lr_kind),
]
_EPS = "Added for numerical stability (see the formula for where)."
FLAT = "<all parameters>"  # the key of the whole flat buffer in `step`
# A flat buffer at least this long is updated block by block, PART_SIZE
# elements at a time: a block's weights, gradient, slots and scratch (about
# 1.5 MB for Adam) stay in the core's cache through the rule's dozen passes,
# instead of each pass streaming the whole buffer through memory.
PARTS_MIN_SIZE = 1 << 18
PART_SIZE = 1 << 16


class _Part(NamedTuple):
    """The key of elements [lo, hi) of the flat buffer, for one block."""

    lo: int
    hi: int


class Optimizer:
    """Base: clipping, weight decay, iteration count and lazily created slots."""

    class Config(StrictModel):
        type: str
        learning_rate: LearningRate = _lr(0.001)
        weight_decay: float | None = Field(
            None,
            ge=0,
            description="Decoupled decay before each update: w -= w * wd * lr.",
        )
        clipnorm: float | None = Field(
            None, gt=0, description="Clip each gradient to this L2 norm."
        )
        clipvalue: float | None = Field(
            None, gt=0, description="Clip each gradient element to [-v, v]."
        )
        global_clipnorm: float | None = Field(
            None,
            gt=0,
            description="Clip all gradients together to this global L2 norm.",
        )

        @model_validator(mode="after")
        def _one_clip_option(self) -> Optimizer.Config:
            given = {k: getattr(self, k) for k in CLIP_OPTIONS}
            shown = [f"{k}={v}" for k, v in given.items() if v is not None]
            if len(shown) > 1:
                raise ValueError(
                    "set at most one of clipnorm, clipvalue and global_clipnorm "
                    f"(as Keras), got {', '.join(shown)}"
                )
            return self

    def __init__(
        self,
        learning_rate: float | dict,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
    ) -> None:
        self.schedule: Schedule | None = None
        if isinstance(learning_rate, dict):  # a schedule's config
            self.schedule = schedules.create(learning_rate)
            learning_rate = self.schedule(0)
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.clipnorm, self.clipvalue = clipnorm, clipvalue
        self.global_clipnorm = global_clipnorm
        self.iterations = 0
        self.slots: dict[str, Any] = {}
        # (params, grads, flat params, flat grads, keys) when they tile buffers
        self._flat: tuple | None = None
        self._flat_slots: dict[str, Any] = {}
        self._scratch: list[Any] = []  # temporaries of the flat buffer's size
        self._parts_ready = False  # may the flat update run in parts?

    def step(self, params: dict[str, Any], grads: dict[str, Any]) -> None:
        """Clip, decay, then update every parameter in place; count the iteration.

        When the parameters are views that exactly tile one flat buffer, and
        so do the gradients (`layers.pack_parameters`), each phase runs once
        on the whole buffer (key FLAT): every rule is elementwise, so the
        numbers are those of the per-tensor loop. Per-tensor clipnorm needs
        the tensors, and keeps the loop.
        """
        flat = self.clipnorm is None and self._flat_views(params, grads)
        if flat:
            params, grads = {FLAT: self._flat[2]}, {FLAT: self._flat[3]}
        grads = {k: _like(grads[k], w) for k, w in params.items()}
        grads = self.clip(grads)
        if self.weight_decay:
            wd, lr = self.weight_decay, self.learning_rate
            for key, w in params.items():
                t = self.scratch(key, w)
                get_array_module(w).multiply(w, wd, out=t)
                t *= lr
                w -= t  # w - w wd lr
        if params:
            self.begin_step(next(iter(params.values())))
        if flat and self._parts_ready and self._update_in_parts(params, grads):
            pass
        else:
            for key, w in params.items():
                self.update(key, w, grads[key])
            self._parts_ready = bool(flat)  # its slots and scratch now exist
        self.iterations += 1
        if self.schedule is not None:  # the rate of the next step, as Keras logs it
            self.learning_rate = self.schedule(self.iterations)

    def clip(self, grads: dict[str, Any]) -> dict[str, Any]:
        """New gradient arrays clipped as Keras's `_clip_gradients` does."""
        if self.clipnorm is not None:
            c = self.clipnorm
            return {k: g * c / _maximum(_norm(g), c) for k, g in grads.items()}
        if self.global_clipnorm is not None and grads:
            c = self.global_clipnorm
            xp = get_array_module(next(iter(grads.values())))
            norm = xp.sqrt(sum(xp.sum(g * g) for g in grads.values()))
            # min(1, c / norm); adding norm - norm makes it NaN for an
            # infinite norm, as in Keras, instead of silently skipping the step
            scale = c / _maximum(norm, c) + (norm - norm)
            return {k: g * scale for k, g in grads.items()}
        if self.clipvalue is not None:
            v = self.clipvalue
            return {k: get_array_module(g).clip(g, -v, v) for k, g in grads.items()}
        return grads

    def begin_step(self, w: Any) -> None:
        """Update optimizer-wide state once per step (`w`: any parameter)."""

    def update(self, key: str, w: Any, g: Any) -> None:
        """Update one parameter array `w` in place from its gradient `g`."""
        raise NotImplementedError

    def slot(self, key: str, name: str, w: Any, fill: float = 0.0) -> Any:
        """The slot `name` of parameter `key`: `fill` on first use, like `w`."""
        if key is FLAT:
            return self._flat_slot(name, w, fill)
        if isinstance(key, _Part):  # made by the first, whole-buffer step
            return self._flat_slots[name][key.lo : key.hi]
        return self.state(f"{key}/{name}", w, w.shape, fill)

    def scratch(self, key: str, w: Any, i: int = 0) -> Any:
        """Temporary array `i` like `w`: kept from step to step for the flat
        buffer (a multi-megabyte temporary costs more than the arithmetic on
        it), a new one for a single tensor. Updates written with `out=` into
        these give the same numbers as the plain expressions."""
        if isinstance(key, _Part):  # made by the first, whole-buffer step
            return self._scratch[i][key.lo : key.hi]
        if key is not FLAT:
            return get_array_module(w).empty_like(w)
        while len(self._scratch) <= i:
            self._scratch.append(None)
        t = self._scratch[i]
        if t is None or t.shape != w.shape or t.dtype != w.dtype:
            t = self._scratch[i] = get_array_module(w).empty_like(w)
        return t

    def _flat_views(self, params: dict[str, Any], grads: dict[str, Any]) -> bool:
        """Do `params` and their `grads` tile one flat buffer each, in order?

        The answer is kept for the same arrays (one identity test per tensor
        and step); other arrays are examined afresh, so a layer that rebinds
        a parameter only sends the step back to the per-tensor loop.
        """
        ws = tuple(params.values())
        gs = tuple(grads[k] for k in params)
        known = self._flat
        if (
            known is not None
            and len(ws) == len(known[0])
            and all(a is b for a, b in zip(ws, known[0]))
            and all(a is b for a, b in zip(gs, known[1]))
        ):
            return True
        flat_w, flat_g = _tiled(ws), _tiled(gs)
        if flat_w is None or flat_g is None or flat_w.dtype != flat_g.dtype:
            self._flat, self._flat_slots = None, {}
            return False
        if known is None or known[2] is not flat_w:
            self._flat_slots = {}  # slots of another buffer: rebuilt from self.slots
            self._parts_ready = False
        self._flat = (ws, gs, flat_w, flat_g, list(params))
        return True

    def _update_in_parts(self, params: dict[str, Any], grads: dict[str, Any]) -> bool:
        """Update a large flat numpy buffer block by block (elementwise rules:
        the same numbers as one call); False if not worth it.

        W3 of bench/ (Adam, 669,706 parameters): 0.26-0.31 s of optimizer
        steps an epoch with the buffer in two halves on two threads, 0.21-0.23
        s in blocks on one: right after backward's GEMMs OpenBLAS's worker
        thread spins on the other core, so a second thread of ours finds no
        free core, while blocks cut the memory traffic.
        """
        w, g = params[FLAT], grads[FLAT]
        if w.size < PARTS_MIN_SIZE or not hasattr(w, "ctypes"):  # cupy: no
            return False
        for lo in range(0, w.size, PART_SIZE):
            hi = min(w.size, lo + PART_SIZE)
            self.update(_Part(lo, hi), w[lo:hi], g[lo:hi])
        return True

    def _flat_slot(self, name: str, flat_w: Any, fill: float) -> Any:
        """Slot `name` of the whole flat buffer; its per-parameter views are the
        entries of `slots` (what state_dict saves), loaded values kept."""
        s = self._flat_slots.get(name)
        if s is not None:
            return s
        s = get_array_module(flat_w).full_like(flat_w, fill)  # (n_params,)
        offset = 0
        for key, w in zip(self._flat[4], self._flat[0]):
            view = s[offset : offset + w.size].reshape(w.shape)
            if f"{key}/{name}" in self.slots:  # loaded or made by the loop: keep it
                view[...] = self.state(f"{key}/{name}", w, w.shape, fill)
            self.slots[f"{key}/{name}"] = view
            offset += w.size
        self._flat_slots[name] = s
        return s

    def state(self, slot_key: str, w: Any, shape: tuple[int, ...], fill: float) -> Any:
        """The state array `slot_key` in `w`'s array module and dtype.

        Created full of `fill` on first use. One loaded from a checkpoint
        (host numpy, maybe another dtype) is moved to `w`'s module and dtype
        here, once.
        """
        s = self.slots.get(slot_key)
        xp = get_array_module(w)
        if s is None:
            s = (
                xp.full_like(w, fill)
                if shape == w.shape
                else xp.full(shape, fill, w.dtype)
            )
        elif get_array_module(s) is not xp or s.dtype != w.dtype:
            s = xp.asarray(s, dtype=w.dtype)
        if s.shape != shape:
            raise ValueError(
                f"optimizer slot {slot_key!r} has shape {tuple(s.shape)}, "
                f"expected {tuple(shape)}"
            )
        self.slots[slot_key] = s
        return s

    def state_dict(self) -> dict[str, Any]:
        """A snapshot (copies, not views) of the iteration count and slots."""
        return {
            "iterations": self.iterations,
            "slots": {k: v.copy() for k, v in self.slots.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a `state_dict()` snapshot; arrays are copied, never aliased."""
        self.iterations = int(state["iterations"])
        self.slots = {k: v.copy() for k, v in state["slots"].items()}
        self._flat_slots = {}  # rebuilt from the loaded slots on the next step
        self._parts_ready = False
        if self.schedule is not None:
            self.learning_rate = self.schedule(self.iterations)


def _tiled(arrays: tuple[Any, ...]) -> Any:
    """The 1-D buffer that `arrays`, in order, exactly tile, else None."""
    if not arrays:
        return None
    base = arrays[0].base
    if base is None or base.ndim != 1 or not base.flags.c_contiguous:
        return None
    start, step = _address(base), base.itemsize
    offset = 0
    for a in arrays:
        if a.base is not base or not a.flags.c_contiguous:
            return None
        if _address(a) != start + offset * step:
            return None
        offset += a.size
    return base if offset == base.size else None


def _address(a: Any) -> int:
    data = a.data
    return data.ptr if hasattr(data, "ptr") else a.__array_interface__["data"][0]


def _like(g: Any, w: Any) -> Any:
    return g if g.dtype == w.dtype else g.astype(w.dtype)


def _norm(g: Any) -> Any:
    xp = get_array_module(g)
    return xp.sqrt(xp.sum(g * g))


def _maximum(x: Any, c: float) -> Any:
    return get_array_module(x).maximum(x, c)


@optimizers.register("sgd")
class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum (Keras 3).

    momentum = 0:  w <- w - lr g
    momentum > 0:  v <- m v - lr g;  w <- w + v
    nesterov:      v <- m v - lr g;  w <- w + m v - lr g
    Defaults (Keras): learning_rate 0.01, momentum 0.0, nesterov False
    (PyTorch: lr 0.001). With a constant lr this equals PyTorch's SGD
    (dampening 0), whose buffer is -v/lr.
    """

    class Config(Optimizer.Config):
        type: Literal["sgd"] = "sgd"
        learning_rate: LearningRate = _lr(0.01)
        momentum: float = Field(
            0.0, ge=0, le=1, description="Velocity kept from step to step."
        )
        nesterov: bool = Field(False, description="Use Nesterov momentum.")

    def __init__(
        self,
        learning_rate: float | dict = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(learning_rate, **options)
        self.momentum, self.nesterov = momentum, nesterov

    def update(self, key: str, w: Any, g: Any) -> None:
        xp = get_array_module(w)
        lr, m = self.learning_rate, self.momentum
        step = xp.multiply(g, lr, out=self.scratch(key, w))  # lr g
        if m == 0:
            w -= step
            return
        v = self.slot(key, "momentum", w)
        v *= m
        v -= step
        if self.nesterov:
            t = xp.multiply(v, m, out=self.scratch(key, w, 1))
            t -= step
            w += t  # w + (m v - lr g)
        else:
            w += v


@optimizers.register("rmsprop")
class RMSprop(Optimizer):
    """RMSprop (Keras 3), optionally centered and with plain momentum.

    a <- rho a + (1 - rho) g^2
    centered:  mg <- rho mg + (1 - rho) g;  d = sqrt(a - mg^2 + eps)
    otherwise: d = sqrt(a + eps)
    momentum = 0: w <- w - lr g / d;  else  u <- momentum u + lr g / d;  w <- w - u
    Epsilon is added INSIDE the square root (Keras); PyTorch adds it outside,
    sqrt(a) + eps. Defaults (Keras): learning_rate 0.001, rho 0.9, momentum
    0.0, epsilon 1e-7, centered False (PyTorch: lr 0.01, alpha 0.99, eps
    1e-8). PyTorch's momentum buffer is u / lr.
    """

    class Config(Optimizer.Config):
        type: Literal["rmsprop"] = "rmsprop"
        rho: float = Field(
            0.9, ge=0, le=1, description="Decay of the mean squared gradient."
        )
        momentum: float = Field(0.0, ge=0, le=1, description="Momentum of the step.")
        epsilon: float = Field(1e-7, gt=0, description=_EPS)
        centered: bool = Field(
            False, description="Divide by the gradient's variance, not its mean square."
        )

    def __init__(
        self,
        learning_rate: float | dict = 0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(learning_rate, **options)
        self.rho, self.momentum = rho, momentum
        self.epsilon, self.centered = epsilon, centered

    def update(self, key: str, w: Any, g: Any) -> None:
        xp = get_array_module(w)
        rho = self.rho
        t, d = self.scratch(key, w), self.scratch(key, w, 1)
        a = self.slot(key, "velocity", w)
        a *= rho
        xp.multiply(g, g, out=t)
        t *= 1 - rho
        a += t  # rho a + (1 - rho) g^2
        if self.centered:
            mg = self.slot(key, "average_gradient", w)
            mg *= rho
            mg += xp.multiply(g, 1 - rho, out=t)
            xp.multiply(mg, mg, out=d)
            xp.subtract(a, d, out=d)
            d += self.epsilon  # a - mg^2 + eps
        else:
            xp.add(a, self.epsilon, out=d)
        xp.sqrt(d, out=d)
        increment = xp.multiply(g, self.learning_rate, out=t)
        increment /= d  # lr g / sqrt(.)
        if self.momentum > 0:
            u = self.slot(key, "momentum", w)
            u *= self.momentum
            u += increment
            w -= u
        else:
            w -= increment


@optimizers.register("adam")
class Adam(Optimizer):
    """Adam (Keras 3), optionally AMSGrad.

    t = iterations + 1;  alpha = lr sqrt(1 - beta_2^t) / (1 - beta_1^t)
    m <- m + (1 - beta_1)(g - m);  v <- v + (1 - beta_2)(g^2 - v)
    amsgrad: v_hat <- max(v_hat, v), used in place of v
    w <- w - alpha m / (sqrt(v) + eps)
    Epsilon is Kingma & Ba's "epsilon hat": added to sqrt(v), not to the
    bias-corrected sqrt(v_hat) as PyTorch does (there eps is effectively
    scaled by sqrt(1 - beta_2^t)); the two agree exactly when eps = 0.
    Defaults (Keras): learning_rate 0.001, beta_1 0.9, beta_2 0.999,
    epsilon 1e-7 (PyTorch: 1e-8), amsgrad False. `weight_decay` is decoupled
    (AdamW-style), unlike PyTorch Adam's L2 term added to the gradient.
    """

    class Config(Optimizer.Config):
        type: Literal["adam"] = "adam"
        beta_1: float = Field(
            0.9, ge=0, lt=1, description="Decay of the gradient's moving average."
        )
        beta_2: float = Field(
            0.999, ge=0, lt=1, description="Decay of the squared gradient's average."
        )
        epsilon: float = Field(1e-7, gt=0, description=_EPS)
        amsgrad: bool = Field(
            False, description="Divide by the largest second moment seen (AMSGrad)."
        )

    def __init__(
        self,
        learning_rate: float | dict = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(learning_rate, **options)
        self.beta_1, self.beta_2 = beta_1, beta_2
        self.epsilon, self.amsgrad = epsilon, amsgrad

    def update(self, key: str, w: Any, g: Any) -> None:
        xp = get_array_module(w)
        t = self.iterations + 1
        alpha = (
            self.learning_rate * math.sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t)
        )
        m = self.slot(key, "momentum", w)
        v = self.slot(key, "velocity", w)
        t, d = self.scratch(key, w), self.scratch(key, w, 1)
        xp.subtract(g, m, out=t)
        t *= 1 - self.beta_1
        m += t  # m + (1 - beta_1)(g - m)
        xp.multiply(g, g, out=t)
        t -= v
        t *= 1 - self.beta_2
        v += t  # v + (1 - beta_2)(g^2 - v)
        if self.amsgrad:
            v_hat = self.slot(key, "velocity_hat", w)
            xp.maximum(v_hat, v, out=v_hat)
            v = v_hat
        xp.multiply(m, alpha, out=t)
        xp.sqrt(v, out=d)
        d += self.epsilon
        t /= d
        w -= t  # w - alpha m / (sqrt(v) + eps)


@optimizers.register("adamw")
class AdamW(Adam):
    """Adam with decoupled weight decay, on by default (Keras 3 AdamW).

    w <- w - w wd lr, then the Adam update (see `adam`), as PyTorch's AdamW.
    Defaults (Keras): weight_decay 0.004 (PyTorch: 0.01), the rest as adam
    (epsilon 1e-7, PyTorch 1e-8). weight_decay cannot be null (Keras refuses
    None); 0 turns AdamW into Adam.
    """

    class Config(Adam.Config):
        type: Literal["adamw"] = "adamw"
        weight_decay: float = Field(
            0.004,
            ge=0,
            description="Decoupled decay before each update: w -= w * wd * lr.",
        )

    def __init__(
        self,
        learning_rate: float | dict = 0.001,
        weight_decay: float = 0.004,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(
            learning_rate,
            beta_1,
            beta_2,
            epsilon,
            amsgrad,
            weight_decay=weight_decay,
            **options,
        )


@optimizers.register("adamax")
class Adamax(Optimizer):
    """Adamax: Adam with the infinity norm (Keras 3).

    t = iterations + 1;  m <- m + (1 - beta_1)(g - m);  u <- max(beta_2 u, |g|)
    w <- w - lr m / ((1 - beta_1^t)(u + eps))
    Epsilon is added after the maximum (Keras); PyTorch takes
    max(beta_2 u, |g| + eps). Defaults (Keras): learning_rate 0.001, beta_1
    0.9, beta_2 0.999, epsilon 1e-7 (PyTorch: lr 0.002, eps 1e-8).
    """

    class Config(Optimizer.Config):
        type: Literal["adamax"] = "adamax"
        beta_1: float = Field(
            0.9, ge=0, lt=1, description="Decay of the gradient's moving average."
        )
        beta_2: float = Field(
            0.999, ge=0, lt=1, description="Decay of the infinity norm."
        )
        epsilon: float = Field(1e-7, gt=0, description=_EPS)

    def __init__(
        self,
        learning_rate: float | dict = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        **options: Any,
    ) -> None:
        super().__init__(learning_rate, **options)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def update(self, key: str, w: Any, g: Any) -> None:
        xp = get_array_module(w)
        correction = 1 - self.beta_1 ** (self.iterations + 1)
        m = self.slot(key, "momentum", w)
        u = self.slot(key, "norm", w)
        m += (1 - self.beta_1) * (g - m)
        u *= self.beta_2
        xp.maximum(u, xp.abs(g), out=u)
        w -= self.learning_rate * m / (correction * (u + self.epsilon))


@optimizers.register("nadam")
class Nadam(Optimizer):
    """Nadam: Adam with Nesterov momentum (Keras 3, Dozat's schedule).

    t = iterations + 1;  mu_t = beta_1 (1 - 0.5 * 0.96^t);  P_t = mu_1 ... mu_t
    m <- m + (1 - beta_1)(g - m);  v <- v + (1 - beta_2)(g^2 - v)
    m_hat = mu_{t+1} m / (1 - P_t mu_{t+1}) + (1 - mu_t) g / (1 - P_t)
    w <- w - lr m_hat / (sqrt(v / (1 - beta_2^t)) + eps)
    The momentum schedule decays with 0.96^t; PyTorch's NAdam uses
    0.96^(t * momentum_decay) with momentum_decay 0.004, so the two differ
    from the first step. P_t is kept as optimizer state ("u_product") in the
    parameters' dtype, as Keras does. Defaults (Keras): learning_rate 0.001,
    beta_1 0.9, beta_2 0.999, epsilon 1e-7 (PyTorch: lr 0.002, eps 1e-8).
    """

    class Config(Optimizer.Config):
        type: Literal["nadam"] = "nadam"
        beta_1: float = Field(
            0.9, ge=0, lt=1, description="Decay of the gradient's moving average."
        )
        beta_2: float = Field(
            0.999, ge=0, lt=1, description="Decay of the squared gradient's average."
        )
        epsilon: float = Field(1e-7, gt=0, description=_EPS)

    def __init__(
        self,
        learning_rate: float | dict = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        **options: Any,
    ) -> None:
        super().__init__(learning_rate, **options)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def mu(self, t: int) -> float:
        return self.beta_1 * (1 - 0.5 * 0.96**t)

    def begin_step(self, w: Any) -> None:
        product = self.state("u_product", w, (), 1.0)
        product *= self.mu(self.iterations + 1)

    def update(self, key: str, w: Any, g: Any) -> None:
        xp = get_array_module(w)
        t = self.iterations + 1
        mu_t, mu_next = self.mu(t), self.mu(t + 1)
        product = self.slots["u_product"]  # P_t, updated by begin_step
        m = self.slot(key, "momentum", w)
        v = self.slot(key, "velocity", w)
        m += (1 - self.beta_1) * (g - m)
        v += (1 - self.beta_2) * (g * g - v)
        m_hat = mu_next * m / (1 - product * mu_next) + (1 - mu_t) * g / (1 - product)
        v_hat = v / (1 - self.beta_2**t)
        w -= m_hat * self.learning_rate / (xp.sqrt(v_hat) + self.epsilon)


@optimizers.register("adagrad")
class Adagrad(Optimizer):
    """Adagrad: per-element steps shrink with the summed squared gradient (Keras 3).

    a <- a + g^2  (a starts at initial_accumulator_value)
    w <- w - lr g / sqrt(a + eps)
    Epsilon is added INSIDE the square root (Keras); PyTorch adds it outside,
    sqrt(a) + eps. Defaults (Keras): learning_rate 0.001,
    initial_accumulator_value 0.1, epsilon 1e-7 (PyTorch: lr 0.01, initial
    accumulator 0, eps 1e-10).
    """

    class Config(Optimizer.Config):
        type: Literal["adagrad"] = "adagrad"
        initial_accumulator_value: float = Field(
            0.1, ge=0, description="Starting value of the squared-gradient sum."
        )
        epsilon: float = Field(1e-7, gt=0, description=_EPS)

    def __init__(
        self,
        learning_rate: float | dict = 0.001,
        initial_accumulator_value: float = 0.1,
        epsilon: float = 1e-7,
        **options: Any,
    ) -> None:
        super().__init__(learning_rate, **options)
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def update(self, key: str, w: Any, g: Any) -> None:
        xp = get_array_module(w)
        a = self.slot(key, "accumulator", w, fill=self.initial_accumulator_value)
        a += g * g
        w -= self.learning_rate * g / xp.sqrt(a + self.epsilon)


@optimizers.register("adadelta")
class Adadelta(Optimizer):
    """Adadelta: steps scaled by the ratio of update and gradient RMS (Keras 3).

    a <- rho a + (1 - rho) g^2
    d = -sqrt(s + eps) g / sqrt(a + eps)
    s <- rho s + (1 - rho) d^2;  w <- w + lr d
    Same formula as PyTorch (eps inside both square roots), but Keras's
    defaults: learning_rate 0.001 (PyTorch: 1.0, Zeiler's "no learning
    rate"), rho 0.95 (PyTorch: 0.9), epsilon 1e-7 (PyTorch: 1e-6). With the
    Keras default rate, weights move very slowly; learning_rate 1.0 is the
    original method.
    """

    class Config(Optimizer.Config):
        type: Literal["adadelta"] = "adadelta"
        rho: float = Field(0.95, ge=0, le=1, description="Decay of both averages.")
        epsilon: float = Field(1e-7, gt=0, description=_EPS)

    def __init__(
        self,
        learning_rate: float | dict = 0.001,
        rho: float = 0.95,
        epsilon: float = 1e-7,
        **options: Any,
    ) -> None:
        super().__init__(learning_rate, **options)
        self.rho, self.epsilon = rho, epsilon

    def update(self, key: str, w: Any, g: Any) -> None:
        xp = get_array_module(w)
        rho, eps = self.rho, self.epsilon
        a = self.slot(key, "accumulated_grad", w)
        s = self.slot(key, "accumulated_delta_var", w)
        a *= rho
        a += (1 - rho) * (g * g)
        d = -(xp.sqrt(s + eps) * g) / xp.sqrt(a + eps)
        s *= rho
        s += (1 - rho) * (d * d)
        w += self.learning_rate * d


@optimizers.register("lion")
class Lion(Optimizer):
    """Lion: signed momentum steps (Keras 3; Chen et al. 2023).

    w <- w - lr sign(beta_1 m + (1 - beta_1) g)
    m <- beta_2 m + (1 - beta_2) g
    Every element moves by exactly lr (or 0), so Lion wants a learning rate
    3-10x smaller than Adam's. PyTorch has no Lion in torch.optim.
    Defaults (Keras): learning_rate 0.001, beta_1 0.9, beta_2 0.99.
    """

    class Config(Optimizer.Config):
        type: Literal["lion"] = "lion"
        beta_1: float = Field(
            0.9,
            gt=0,
            le=1,
            description="Weight of the momentum in the step's sign (0: SignSGD).",
        )
        beta_2: float = Field(0.99, ge=0, le=1, description="Decay of the momentum.")

    def __init__(
        self,
        learning_rate: float | dict = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.99,
        **options: Any,
    ) -> None:
        super().__init__(learning_rate, **options)
        self.beta_1, self.beta_2 = beta_1, beta_2

    def update(self, key: str, w: Any, g: Any) -> None:
        xp = get_array_module(w)
        b1, b2 = self.beta_1, self.beta_2
        m = self.slot(key, "momentum", w)
        w -= self.learning_rate * xp.sign(m * b1 + g * (1 - b1))
        m *= b2
        m += g * (1 - b2)
