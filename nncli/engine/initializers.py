"""Weight initializers, Keras names and defaults.

Every initializer draws on a host `numpy.random.Generator` and returns a
float64 numpy array; `Backend.asarray` then casts and copies it, so one seed
gives the same weights on CPU and GPU and in any dtype.

The variance-scaling family follows Keras 3
(`keras/src/initializers/random_initializers.py`): fan = max(1, fan_in |
fan_out | mean of both); uniform limit sqrt(3 scale / fan); the "normal"
variants are normals truncated at 2 standard deviations (out-of-range draws
are redrawn) with stddev sqrt(scale / fan) / 0.87962566103423978, so the
truncated draw has standard deviation sqrt(scale / fan). Keras's plain
`truncated_normal` initializer makes no such correction: its draws have
standard deviation 0.8796... * stddev, within mean +- 2 stddev.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from nncli.registry import Registry, StrictModel

initializers: Registry[type[Initializer]] = Registry("initializer")

# std of a standard normal truncated to [-2, 2]
TRUNCATED_STD = 0.87962566103423978


def compute_fans(shape: tuple[int, ...]) -> tuple[float, float]:
    """(fan_in, fan_out) the way Keras computes them (receptive field for conv)."""
    if len(shape) == 0:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    if len(shape) == 2:
        return float(shape[0]), float(shape[1])
    receptive = float(np.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


def truncated_normal(
    rng: np.random.Generator, shape: tuple[int, ...], stddev: float
) -> np.ndarray:
    """N(0, stddev^2) draws, each outside 2 stddev redrawn (as Keras/TF do)."""
    z = np.array(rng.standard_normal(shape), dtype=np.float64)
    bad = np.abs(z) > 2.0
    while bad.any():
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(z) > 2.0
    return np.asarray(stddev * z, dtype=np.float64)


class Initializer:
    class Config(StrictModel):
        type: str

    def __call__(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        raise NotImplementedError


@initializers.register("zeros", "zero")
class Zeros(Initializer):
    """All zeros."""

    class Config(StrictModel):
        type: Literal["zeros"] = "zeros"

    def __call__(self, rng, shape):
        return np.zeros(shape)


@initializers.register("ones", "one")
class Ones(Initializer):
    """All ones."""

    class Config(StrictModel):
        type: Literal["ones"] = "ones"

    def __call__(self, rng, shape):
        return np.ones(shape)


@initializers.register("constant")
class Constant(Initializer):
    """Every entry equal to `value` (Keras default 0.0)."""

    class Config(StrictModel):
        type: Literal["constant"] = "constant"
        value: float = 0.0

    def __init__(self, value: float = 0.0) -> None:
        self.value = value

    def __call__(self, rng, shape):
        return np.full(shape, float(self.value))


@initializers.register("identity")
class Identity(Initializer):
    """gain * eye(rows, cols): 2-D only; non-square gets ones on the main diagonal."""

    class Config(StrictModel):
        type: Literal["identity"] = "identity"
        gain: float = 1.0

    def __init__(self, gain: float = 1.0) -> None:
        self.gain = gain

    def __call__(self, rng, shape):
        shape = tuple(shape)
        if len(shape) != 2:
            raise ValueError(
                f"the identity initializer needs a 2-D weight, got shape {shape} "
                f"of rank {len(shape)}"
            )
        return np.asarray(self.gain * np.eye(*shape), dtype=np.float64)


@initializers.register("random_normal", "normal")
class RandomNormal(Initializer):
    """N(mean, stddev^2), untruncated; Keras defaults mean 0, stddev 0.05."""

    class Config(StrictModel):
        type: Literal["random_normal"] = "random_normal"
        mean: float = 0.0
        stddev: float = Field(0.05, ge=0)

    def __init__(self, mean: float = 0.0, stddev: float = 0.05) -> None:
        self.mean, self.stddev = mean, stddev

    def __call__(self, rng, shape):
        z = np.asarray(rng.standard_normal(shape), dtype=np.float64)
        return np.asarray(self.mean + self.stddev * z, dtype=np.float64)


@initializers.register("random_uniform", "uniform")
class RandomUniform(Initializer):
    """U[minval, maxval); Keras defaults -0.05 and 0.05."""

    class Config(StrictModel):
        type: Literal["random_uniform"] = "random_uniform"
        minval: float = -0.05
        maxval: float = 0.05

        @model_validator(mode="after")
        def _ordered(self) -> RandomUniform.Config:
            if self.minval > self.maxval:
                raise ValueError(
                    f"minval ({self.minval}) is greater than maxval ({self.maxval})"
                )
            return self

    def __init__(self, minval: float = -0.05, maxval: float = 0.05) -> None:
        self.minval, self.maxval = minval, maxval

    def __call__(self, rng, shape):
        w = rng.uniform(self.minval, self.maxval, size=shape)
        return np.asarray(w, dtype=np.float64)


@initializers.register("truncated_normal")
class TruncatedNormal(Initializer):
    """N(mean, stddev^2) truncated to mean +- 2 stddev; Keras: mean 0, stddev 0.05.

    As in Keras, `stddev` is that of the normal before truncation: draws have
    standard deviation 0.8796... * stddev (variance_scaling corrects for it,
    this one does not).
    """

    class Config(StrictModel):
        type: Literal["truncated_normal"] = "truncated_normal"
        mean: float = 0.0
        stddev: float = Field(
            0.05, ge=0, description="Of the normal before truncation at 2 stddev."
        )

    def __init__(self, mean: float = 0.0, stddev: float = 0.05) -> None:
        self.mean, self.stddev = mean, stddev

    def __call__(self, rng, shape):
        w = self.mean + truncated_normal(rng, tuple(shape), self.stddev)
        return np.asarray(w, dtype=np.float64)


@initializers.register("orthogonal")
class Orthogonal(Initializer):
    """gain * an orthogonal matrix (QR of a normal draw), as Keras's Orthogonal.

    A weight of rank >= 2 is treated as a (prod(shape[:-1]), shape[-1]) matrix:
    orthonormal columns when it has at least as many rows as columns, else
    orthonormal rows. Q's columns are sign-corrected by diag(R), so Q is
    uniformly (Haar) distributed.
    """

    class Config(StrictModel):
        type: Literal["orthogonal"] = "orthogonal"
        gain: float = 1.0

    def __init__(self, gain: float = 1.0) -> None:
        self.gain = gain

    def __call__(self, rng, shape):
        shape = tuple(shape)
        if len(shape) < 2:
            raise ValueError(
                f"the orthogonal initializer needs a weight of rank 2 or more, "
                f"got shape {shape} of rank {len(shape)}"
            )
        rows, cols = int(np.prod(shape[:-1])), shape[-1]
        a = rng.standard_normal((max(rows, cols), min(rows, cols)))  # tall
        q, r = np.linalg.qr(a)  # reduced: q (max, min), orthonormal columns
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return np.asarray(self.gain * q.reshape(shape), dtype=np.float64)


@initializers.register("variance_scaling")
class VarianceScaling(Initializer):
    """Keras VarianceScaling: variance scale / fan, uniform or (truncated) normal."""

    class Config(StrictModel):
        type: Literal["variance_scaling"] = "variance_scaling"
        scale: float = Field(1.0, gt=0, description="Variance = scale / fan.")
        mode: Literal["fan_in", "fan_out", "fan_avg"] = Field(
            "fan_in", description="Which fan: inputs, outputs or their mean."
        )
        distribution: Literal[
            "truncated_normal", "untruncated_normal", "uniform", "normal"
        ] = Field(
            "truncated_normal",
            description="normal is Keras's alias of truncated_normal.",
        )

    def __init__(
        self,
        scale: float = 1.0,
        mode: str = "fan_in",
        distribution: str = "truncated_normal",
    ) -> None:
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def __call__(self, rng, shape):
        shape = tuple(shape)
        fan_in, fan_out = compute_fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out}.get(
            self.mode, (fan_in + fan_out) / 2.0
        )
        variance = self.scale / max(1.0, fan)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return np.asarray(rng.uniform(-limit, limit, size=shape), dtype=np.float64)
        if self.distribution == "untruncated_normal":
            z = np.asarray(rng.standard_normal(shape), dtype=np.float64)
            return np.asarray(math.sqrt(variance) * z)
        return truncated_normal(rng, shape, math.sqrt(variance) / TRUNCATED_STD)


@initializers.register("glorot_uniform")
class GlorotUniform(VarianceScaling):
    """U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out)); Keras's Dense default."""

    class Config(StrictModel):
        type: Literal["glorot_uniform"] = "glorot_uniform"

    def __init__(self) -> None:
        super().__init__(1.0, "fan_avg", "uniform")


@initializers.register("glorot_normal")
class GlorotNormal(VarianceScaling):
    """Truncated normal with std sqrt(2 / (fan_in + fan_out))."""

    class Config(StrictModel):
        type: Literal["glorot_normal"] = "glorot_normal"

    def __init__(self) -> None:
        super().__init__(1.0, "fan_avg", "truncated_normal")


@initializers.register("he_uniform")
class HeUniform(VarianceScaling):
    """U(-limit, limit), limit = sqrt(6 / fan_in)."""

    class Config(StrictModel):
        type: Literal["he_uniform"] = "he_uniform"

    def __init__(self) -> None:
        super().__init__(2.0, "fan_in", "uniform")


@initializers.register("he_normal")
class HeNormal(VarianceScaling):
    """Truncated normal with std sqrt(2 / fan_in)."""

    class Config(StrictModel):
        type: Literal["he_normal"] = "he_normal"

    def __init__(self) -> None:
        super().__init__(2.0, "fan_in", "truncated_normal")


@initializers.register("lecun_uniform")
class LecunUniform(VarianceScaling):
    """U(-limit, limit), limit = sqrt(3 / fan_in)."""

    class Config(StrictModel):
        type: Literal["lecun_uniform"] = "lecun_uniform"

    def __init__(self) -> None:
        super().__init__(1.0, "fan_in", "uniform")


@initializers.register("lecun_normal")
class LecunNormal(VarianceScaling):
    """Truncated normal with std sqrt(1 / fan_in)."""

    class Config(StrictModel):
        type: Literal["lecun_normal"] = "lecun_normal"

    def __init__(self) -> None:
        super().__init__(1.0, "fan_in", "truncated_normal")
