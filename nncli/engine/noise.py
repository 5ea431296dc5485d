"""Training-time noise: SpatialDropout1D/2D and GaussianNoise (Keras names).

Like Dropout, each layer draws on the host from its own Generator (seeded at
build from the layer's `seed` or the model's rng), so one seed gives the same
noise on every backend; at inference each is the identity.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from nncli.engine.backend import Backend
from nncli.engine.conv import spatial
from nncli.engine.layers import Dropout, Layer, layers
from nncli.registry import StrictModel

Shape = tuple[int, ...]


class _SpatialDropout(Dropout):
    """Dropout of whole channels: one keep/drop draw per (sample, channel).

    Kept channels are scaled by 1/(1-rate), as Keras's SpatialDropout does.
    """

    NAME, rank = "", 2
    keras_difference = (
        "Masks come from nncli's seeded generator (the same on every backend), "
        "not Keras's RNG: equal in distribution, not in values. Channels-last only."
    )

    def build(
        self, in_shape: Shape, backend: Backend, rng: np.random.Generator
    ) -> Shape:
        spatial(in_shape, self.rank, self.NAME)
        return super().build(in_shape, backend, rng)

    def forward(self, x: Any, training: bool = False) -> tuple[Any, Any]:
        if not training or self.rate == 0.0:
            return x, None
        shape = (x.shape[0], *(1,) * self.rank, x.shape[-1])  # (n, 1, [1,] c)
        keep = self.rng.random(shape) >= self.rate  # host draw, see module doc
        mask = self.backend.asarray(keep, dtype=x.dtype) / (1.0 - self.rate)
        return x * mask, mask

    def get_config(self) -> dict:
        return {"type": self.NAME, "rate": self.rate, "seed": self.seed}


@layers.register("spatial_dropout1d")
class SpatialDropout1D(_SpatialDropout):
    """Drop whole channels of (length, channels) inputs."""

    NAME, rank = "spatial_dropout1d", 1

    class Config(Dropout.Config):
        type: Literal["spatial_dropout1d"] = "spatial_dropout1d"


@layers.register("spatial_dropout2d")
class SpatialDropout2D(_SpatialDropout):
    """Drop whole feature maps of (height, width, channels) inputs."""

    NAME, rank = "spatial_dropout2d", 2

    class Config(Dropout.Config):
        type: Literal["spatial_dropout2d"] = "spatial_dropout2d"


@layers.register("gaussian_noise")
class GaussianNoise(Layer):
    """y = x + stddev * N(0, 1) in training; the identity at inference (Keras)."""

    keras_difference = (
        "Noise comes from nncli's seeded generator (the same on every backend), "
        "not Keras's RNG: equal in distribution, not in values."
    )

    class Config(StrictModel):
        type: Literal["gaussian_noise"] = "gaussian_noise"
        stddev: float = Field(ge=0.0, le=1.0, description="Noise std (Keras: <= 1).")
        seed: int | None = Field(None, ge=0)

    def __init__(self, stddev: float, seed: int | None = None) -> None:
        super().__init__()
        self.stddev, self.seed = stddev, seed
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
        if not training or self.stddev == 0.0:
            return x, None
        noise = self.rng.standard_normal(x.shape)  # host draw, see module doc
        return x + self.backend.asarray(self.stddev * noise, dtype=x.dtype), None

    def backward(self, dy: Any, cache: Any, need_dx: bool = True) -> Any:
        return dy

    def get_config(self) -> dict:
        return {"type": "gaussian_noise", "stddev": self.stddev, "seed": self.seed}
