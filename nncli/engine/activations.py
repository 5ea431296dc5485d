"""Activation functions as forward/backward pairs, registered by Keras name.

Each entry is a class whose instances are callables pairs:
`forward(x) -> y` and `backward(dy, x, y) -> dx` (both `x` and `y` are given so
each derivative uses whichever is cheaper and stabler). Parameters (such as
`negative_slope`) are constructor arguments declared in the nested `Config`,
with Keras 3 defaults. Formulas use `get_array_module(x)` so they run on numpy
and cupy alike; none of them overflows or warns for any finite input.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from pydantic import Field

from nncli.engine.backend import get_array_module
from nncli.registry import Registry, StrictModel

activations: Registry[type[Activation]] = Registry("activation")


# --- shared stable primitives (also used by losses) -----------------------------


def sigmoid(x: Any) -> Any:
    """1 / (1 + exp(-x)), computed from exp(-|x|) so it never overflows."""
    xp = get_array_module(x)
    e = xp.exp(-xp.abs(x))  # in (0, 1]
    d = 1 + e
    return xp.where(x >= 0, 1 / d, e / d)


def softplus(x: Any) -> Any:
    """log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)), exact in both tails."""
    xp = get_array_module(x)
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


def log_softmax(x: Any) -> Any:
    """Row-wise log-softmax over the last axis, max-subtracted."""
    xp = get_array_module(x)
    z = x - xp.max(x, axis=-1, keepdims=True)
    return z - xp.log(xp.sum(xp.exp(z), axis=-1, keepdims=True))


def softmax(x: Any) -> Any:
    """Row-wise softmax over the last axis, max-subtracted."""
    xp = get_array_module(x)
    e = xp.exp(x - xp.max(x, axis=-1, keepdims=True))
    return e / xp.sum(e, axis=-1, keepdims=True)


# W. J. Cody, "Rational Chebyshev approximations for the error function",
# Math. Comp. 23 (1969) 631-637; coefficients of netlib specfun CALERF.
# fmt: off
_ERF_A = (3.16112374387056560, 113.864154151050156, 377.485237685302021,
          3209.37758913846947, 0.185777706184603153)
_ERF_B = (23.6012909523441209, 244.024637934444173, 1282.61652607737228,
          2844.23683343917062)
_ERF_C = (0.564188496988670089, 8.88314979438837594, 66.1191906371416295,
          298.635138197400131, 881.952221241769090, 1712.04761263407058,
          2051.07837782607147, 1230.33935479799725, 2.15311535474403846e-8)
_ERF_D = (15.7449261107098347, 117.693950891312499, 537.181101862009858,
          1621.38957456669019, 3290.79923573345963, 4362.61909014324716,
          3439.36767414372164, 1230.33935480374942)
_ERF_P = (0.305326634961232344, 0.360344899949804439, 0.125781726111229246,
          0.0160837851487422766, 6.58749161529837803e-4, 0.0163153871373020978)
_ERF_Q = (2.56852019228982242, 1.87295284992346047, 0.527905102951428412,
          0.0605183413124413191, 2.33520497626869185e-3)
# fmt: on
_INV_SQRT_PI = 0.56418958354775628695


def _erf_small(x: Any) -> Any:
    """erf(x) for |x| <= 0.46875 (Cody's first interval)."""
    t = x * x
    num, den = _ERF_A[4] * t, t
    for a, b in zip(_ERF_A[:3], _ERF_B[:3]):
        num, den = (num + a) * t, (den + b) * t
    return x * (num + _ERF_A[3]) / (den + _ERF_B[3])


def _erfc_positive(y: Any) -> Any:
    """erfc(y) for y > 0.46875 (Cody's second and third intervals)."""
    xp = get_array_module(y)
    y2 = xp.clip(y, 0.46875, 4.0)  # clamps keep the unused branch finite
    num, den = _ERF_C[8] * y2, y2
    for c, d in zip(_ERF_C[:7], _ERF_D[:7]):
        num, den = (num + c) * y2, (den + d) * y2
    mid = (num + _ERF_C[7]) / (den + _ERF_D[7])
    y3 = xp.maximum(y, 4.0)
    t = 1 / (y3 * y3)
    num, den = _ERF_P[5] * t, t
    for p, q in zip(_ERF_P[:4], _ERF_Q[:4]):
        num, den = (num + p) * t, (den + q) * t
    tail = (_INV_SQRT_PI - t * (num + _ERF_P[4]) / (den + _ERF_Q[4])) / y3
    # exp(-y^2) split as exp(-s^2) * exp(-(y - s)(y + s)) to keep its precision
    s = xp.trunc(16 * y) / 16
    gauss = xp.exp(-s * s) * xp.exp(-(y - s) * (y + s))
    return gauss * xp.where(y <= 4.0, mid, tail)


def erf(x: Any) -> Any:
    """Error function, vectorised against `xp` (numpy has none).

    Cody's rational approximations: within a few ulp of the correctly rounded
    value in float64 (tests hold it to 1e-14 relative against `math.erf`).
    """
    xp = get_array_module(x)
    ax = xp.abs(x)
    big = xp.sign(x) * (1 - _erfc_positive(ax))
    return xp.where(ax <= 0.46875, _erf_small(xp.clip(x, -0.46875, 0.46875)), big)


def erfc(x: Any) -> Any:
    """Complementary error function 1 - erf(x), accurate in the right tail too."""
    xp = get_array_module(x)
    ax = xp.abs(x)
    tail = _erfc_positive(ax)
    small = 1 - _erf_small(xp.clip(x, -0.46875, 0.46875))
    return xp.where(ax <= 0.46875, small, xp.where(x < 0, 2 - tail, tail))


# --- registered activations ----------------------------------------------------


class Activation:
    """Base: stateless elementwise (or row-wise, for softmax) function."""

    class Config(StrictModel):
        type: str

    def forward(self, x: Any) -> Any:
        raise NotImplementedError

    def backward(self, dy: Any, x: Any, y: Any) -> Any:
        raise NotImplementedError


@activations.register("linear")
class Linear(Activation):
    """f(x) = x."""

    class Config(StrictModel):
        type: Literal["linear"] = "linear"

    def forward(self, x):
        return x

    def backward(self, dy, x, y):
        return dy


@activations.register("relu")
class ReLU(Activation):
    """max(x, 0), with Keras's threshold, max_value and negative_slope options.

    f(x) = min(x, max_value) for x > threshold, else negative_slope * (x -
    threshold) (keras.activations.relu; defaults give plain max(x, 0)). The
    derivative at a kink (x = threshold, x = max_value) is taken as 0, as
    Keras on JAX and PyTorch do at x = 0.
    """

    class Config(StrictModel):
        type: Literal["relu"] = "relu"
        negative_slope: float = Field(
            0.0, ge=0, description="Slope below the threshold (Keras default 0)."
        )
        max_value: float | None = Field(
            None, ge=0, description="Largest output (saturation); null: none."
        )
        threshold: float = Field(
            0.0, ge=0, description="Inputs at or below it give the negative part."
        )

    def __init__(
        self,
        negative_slope: float = 0.0,
        max_value: float | None = None,
        threshold: float = 0.0,
    ) -> None:
        self.negative_slope, self.max_value = negative_slope, max_value
        self.threshold = threshold
        self.plain = negative_slope == 0 and max_value is None and threshold == 0

    def forward(self, x):
        xp = get_array_module(x)
        if self.plain:
            return xp.maximum(x, 0)
        pos = x if self.max_value is None else xp.minimum(x, self.max_value)
        neg = self.negative_slope * (x - self.threshold) if self.negative_slope else 0
        return xp.where(x > self.threshold, pos, neg)

    def backward(self, dy, x, y):
        inside = x > self.threshold
        if self.max_value is not None:
            inside = inside & (x < self.max_value)
        dx = dy * inside
        if self.negative_slope:
            dx = dx + (self.negative_slope * dy) * (x < self.threshold)
        return dx


@activations.register("relu6")
class ReLU6(Activation):
    """f(x) = min(max(x, 0), 6); f' = 1 on (0, 6), else 0."""

    class Config(StrictModel):
        type: Literal["relu6"] = "relu6"

    def forward(self, x):
        xp = get_array_module(x)
        return xp.minimum(xp.maximum(x, 0), 6)

    def backward(self, dy, x, y):
        return dy * ((x > 0) & (x < 6))


@activations.register("sigmoid")
class Sigmoid(Activation):
    """f(x) = 1 / (1 + exp(-x)), stable for large |x|; f' = y (1 - y)."""

    class Config(StrictModel):
        type: Literal["sigmoid"] = "sigmoid"

    def forward(self, x):
        return sigmoid(x)

    def backward(self, dy, x, y):
        return dy * y * (1 - y)


@activations.register("tanh")
class Tanh(Activation):
    """f(x) = tanh(x); f' = 1 - y^2."""

    class Config(StrictModel):
        type: Literal["tanh"] = "tanh"

    def forward(self, x):
        return get_array_module(x).tanh(x)

    def backward(self, dy, x, y):
        return dy * (1 - y * y)


@activations.register("softmax")
class Softmax(Activation):
    """Row-wise softmax over the last axis; dx = y * (dy - sum(dy * y))."""

    class Config(StrictModel):
        type: Literal["softmax"] = "softmax"

    def forward(self, x):
        return softmax(x)

    def backward(self, dy, x, y):
        xp = get_array_module(y)
        return y * (dy - xp.sum(dy * y, axis=-1, keepdims=True))


@activations.register("leaky_relu")
class LeakyReLU(Activation):
    """f(x) = x if x > 0 else negative_slope * x; Keras 3 default slope 0.2."""

    class Config(StrictModel):
        type: Literal["leaky_relu"] = "leaky_relu"
        negative_slope: float = Field(0.2, ge=0)

    def __init__(self, negative_slope: float = 0.2) -> None:
        self.negative_slope = negative_slope

    def forward(self, x):
        return get_array_module(x).where(x > 0, x, self.negative_slope * x)

    def backward(self, dy, x, y):
        return get_array_module(x).where(x > 0, dy, self.negative_slope * dy)


@activations.register("elu")
class ELU(Activation):
    """f(x) = x if x > 0 else alpha * (exp(x) - 1); Keras default alpha 1.0."""

    class Config(StrictModel):
        type: Literal["elu"] = "elu"
        alpha: float = 1.0

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha

    def forward(self, x):
        xp = get_array_module(x)
        return xp.where(x > 0, x, self.alpha * xp.expm1(xp.minimum(x, 0)))

    def backward(self, dy, x, y):
        xp = get_array_module(x)
        return dy * xp.where(x > 0, 1, xp.exp(xp.minimum(x, 0)) * self.alpha)


@activations.register("selu")
class SELU(Activation):
    """f(x) = scale * elu(x, alpha) with the self-normalising constants."""

    ALPHA = 1.6732632423543772848170429916717
    SCALE = 1.0507009873554804934193349852946

    class Config(StrictModel):
        type: Literal["selu"] = "selu"

    def forward(self, x):
        xp = get_array_module(x)
        neg = self.ALPHA * xp.expm1(xp.minimum(x, 0))
        return self.SCALE * xp.where(x > 0, x, neg)

    def backward(self, dy, x, y):
        xp = get_array_module(x)
        d = xp.where(x > 0, 1, self.ALPHA * xp.exp(xp.minimum(x, 0)))
        return dy * (self.SCALE * d)


_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_INV_SQRT_2 = 1 / math.sqrt(2)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)


@activations.register("gelu")
class GELU(Activation):
    """x * Phi(x) with the exact erf form (Keras default approximate=False).

    approximate=True uses 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
    The exact form is written as 0.5 x erfc(-x / sqrt 2), which keeps full
    relative precision in the left tail.
    """

    class Config(StrictModel):
        type: Literal["gelu"] = "gelu"
        approximate: bool = False

    def __init__(self, approximate: bool = False) -> None:
        self.approximate = approximate

    def forward(self, x):
        xp = get_array_module(x)
        if self.approximate:
            u = _SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)
            return 0.5 * x * (1 + xp.tanh(u))
        return 0.5 * x * erfc(-x * _INV_SQRT_2)

    def backward(self, dy, x, y):
        xp = get_array_module(x)
        if self.approximate:
            t = xp.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))
            du = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
            return dy * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du)
        pdf = _INV_SQRT_2PI * xp.exp(-0.5 * x * x)
        return dy * (0.5 * erfc(-x * _INV_SQRT_2) + x * pdf)


@activations.register("silu", "swish")
class SiLU(Activation):
    """f(x) = x * sigmoid(x) (alias swish); f' = s (1 + x (1 - s))."""

    class Config(StrictModel):
        type: Literal["silu"] = "silu"

    def forward(self, x):
        return x * sigmoid(x)

    def backward(self, dy, x, y):
        s = sigmoid(x)
        return dy * s * (1 + x * (1 - s))


@activations.register("softplus")
class Softplus(Activation):
    """f(x) = log(1 + exp(x)), stable in both tails; f' = sigmoid(x)."""

    class Config(StrictModel):
        type: Literal["softplus"] = "softplus"

    def forward(self, x):
        return softplus(x)

    def backward(self, dy, x, y):
        return dy * sigmoid(x)


@activations.register("softsign")
class Softsign(Activation):
    """f(x) = x / (1 + |x|); f' = 1 / (1 + |x|)^2."""

    class Config(StrictModel):
        type: Literal["softsign"] = "softsign"

    def forward(self, x):
        return x / (1 + get_array_module(x).abs(x))

    def backward(self, dy, x, y):
        d = 1 + get_array_module(x).abs(x)
        return dy / (d * d)


@activations.register("hard_sigmoid")
class HardSigmoid(Activation):
    """Keras 3's piecewise-linear sigmoid: relu6(x + 3) / 6 (0 below -3, 1 above 3).

    Keras 2 used 0.2 x + 0.5; Keras 3 (and JAX, PyTorch) use x / 6 + 0.5.
    f' = 1/6 on (-3, 3), else 0.
    """

    class Config(StrictModel):
        type: Literal["hard_sigmoid"] = "hard_sigmoid"

    def forward(self, x):
        return _hard_sigmoid(x)

    def backward(self, dy, x, y):
        return (dy * ((x > -3) & (x < 3))) / 6


def _hard_sigmoid(x: Any) -> Any:
    xp = get_array_module(x)
    return xp.minimum(xp.maximum(x + 3, 0), 6) / 6


@activations.register("hard_silu", "hard_swish")
class HardSiLU(Activation):
    """f(x) = x * hard_sigmoid(x) (alias hard_swish); 0 below -3, x above 3."""

    class Config(StrictModel):
        type: Literal["hard_silu"] = "hard_silu"

    def forward(self, x):
        return x * _hard_sigmoid(x)

    def backward(self, dy, x, y):
        inside = (x > -3) & (x < 3)
        return dy * (_hard_sigmoid(x) + (x * inside) / 6)


@activations.register("mish")
class Mish(Activation):
    """f(x) = x * tanh(softplus(x)).

    f' = tanh(s) + x sech^2(s) sigmoid(x), s = softplus(x) >= 0, with
    sech^2(s) = 4 e / (1 + e)^2, e = exp(-2 s) in (0, 1], which never overflows.
    """

    class Config(StrictModel):
        type: Literal["mish"] = "mish"

    def forward(self, x):
        return x * get_array_module(x).tanh(softplus(x))

    def backward(self, dy, x, y):
        xp = get_array_module(x)
        s = softplus(x)
        e = xp.exp(-2 * s)
        sech2 = 4 * e / ((1 + e) * (1 + e))
        return dy * (xp.tanh(s) + x * sech2 * sigmoid(x))


def _exp_limit(dtype: Any) -> float:
    """The largest value of `dtype` whose exp is finite in `dtype`."""
    dtype = np.dtype(dtype)
    if dtype not in _EXP_LIMITS:
        t = np.log(np.finfo(dtype).max)
        with np.errstate(over="ignore"):
            while not np.isfinite(np.exp(t)):
                t = np.nextafter(t, dtype.type(-np.inf))
        _EXP_LIMITS[dtype] = float(t)
    return _EXP_LIMITS[dtype]


_EXP_LIMITS: dict[Any, float] = {}


@activations.register("exponential")
class Exponential(Activation):
    """f(x) = exp(x); f' = y.

    Like Keras, large inputs give inf (above about 88.7 in float32, 709.8 in
    float64), but without an overflow warning: the training loop reports the
    non-finite loss that follows.
    """

    class Config(StrictModel):
        type: Literal["exponential"] = "exponential"

    def forward(self, x):
        xp = get_array_module(x)
        limit = _exp_limit(x.dtype)
        return xp.where(x > limit, xp.inf, xp.exp(xp.minimum(x, limit)))

    def backward(self, dy, x, y):
        return dy * y


@activations.register("log_softmax")
class LogSoftmax(Activation):
    """Row-wise log(softmax(x)) over the last axis; dx = dy - exp(y) sum(dy)."""

    class Config(StrictModel):
        type: Literal["log_softmax"] = "log_softmax"

    def forward(self, x):
        return log_softmax(x)

    def backward(self, dy, x, y):
        xp = get_array_module(y)
        return dy - xp.exp(y) * xp.sum(dy, axis=-1, keepdims=True)
