"""Shape layers: Reshape, Permute, UpSampling2D, ZeroPadding2D (Keras names).

None has parameters; each forward is a view or one copy, and each backward
its adjoint (the inverse view, a sum over the repeated pixels, a crop).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Union

import numpy as np
from pydantic import Field, model_validator

from nncli.engine.backend import Backend
from nncli.engine.conv import Ints2, spatial
from nncli.engine.layers import Layer, layers
from nncli.engine.windows import as_pair
from nncli.registry import StrictModel

Shape = tuple[int, ...]
Pad = Annotated[int, Field(ge=0, le=100_000)]
PadPair = Annotated[list[Pad], Field(min_length=2, max_length=2)]
Padding2 = Union[
    Pad, PadPair, Annotated[list[PadPair], Field(min_length=2, max_length=2)]
]


@layers.register("reshape")
class Reshape(Layer):
    """Row-major (C order) reshape of each sample to `target_shape`.

    One entry may be -1, inferred from the others (Keras 3).
    """

    class Config(StrictModel):
        type: Literal["reshape"] = "reshape"
        target_shape: list[int] = Field(
            min_length=1, max_length=8, description="Shape without the batch axis."
        )

        @model_validator(mode="after")
        def _sizes(self) -> Reshape.Config:
            t = self.target_shape
            if any(d == 0 or d < -1 for d in t) or t.count(-1) > 1:
                raise ValueError(
                    f"target_shape needs positive sizes and at most one -1, got {t}"
                )
            return self

    def __init__(self, target_shape: list[int]) -> None:
        super().__init__()
        self.target_shape = list(target_shape)

    def build(
        self, in_shape: Shape, backend: Backend, rng: np.random.Generator
    ) -> Shape:
        super().build(in_shape, backend, rng)
        total, known = (
            math.prod(in_shape),
            math.prod(d for d in self.target_shape if d != -1),
        )
        shape = [
            total // known if d == -1 else d for d in self.target_shape
        ]  # (the -1 filled in)
        if math.prod(shape) != total:
            raise ValueError(
                f"target_shape {self.target_shape} does not fit the input's "
                f"{total} values per sample"
            )
        return tuple(shape)

    def forward(self, x: Any, training: bool = False) -> tuple[Any, Any]:
        return x.reshape(len(x), *self.target_shape), x.shape

    def backward(self, dy: Any, cache: Any, need_dx: bool = True) -> Any:
        return dy.reshape(cache)

    def get_config(self) -> dict:
        return {"type": "reshape", "target_shape": self.target_shape}


@layers.register("permute")
class Permute(Layer):
    """Reorder the non-batch axes: output axis i is input axis dims[i] (1-based)."""

    class Config(StrictModel):
        type: Literal["permute"] = "permute"
        dims: list[int] = Field(min_length=1, max_length=8)

        @model_validator(mode="after")
        def _permutation(self) -> Permute.Config:
            if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
                raise ValueError(
                    f"dims must be a permutation of 1..{len(self.dims)}, got {self.dims}"
                )
            return self

    def __init__(self, dims: list[int]) -> None:
        super().__init__()
        self.dims = list(dims)
        self.inverse = [0, *(int(i) + 1 for i in np.argsort(self.dims))]

    def build(
        self, in_shape: Shape, backend: Backend, rng: np.random.Generator
    ) -> Shape:
        super().build(in_shape, backend, rng)
        if len(self.dims) != len(in_shape):
            raise ValueError(
                f"dims {self.dims} needs inputs with {len(self.dims)} axes, got "
                f"shape {list(in_shape)}"
            )
        return tuple(in_shape[d - 1] for d in self.dims)

    def forward(self, x: Any, training: bool = False) -> tuple[Any, Any]:
        return x.transpose(0, *self.dims), None  # a view

    def backward(self, dy: Any, cache: Any, need_dx: bool = True) -> Any:
        return dy.transpose(*self.inverse)

    def get_config(self) -> dict:
        return {"type": "permute", "dims": self.dims}


@layers.register("up_sampling2d", "upsampling2d")
class UpSampling2D(Layer):
    """Repeat each pixel size[0] times down and size[1] times across (nearest)."""

    keras_difference = (
        "Only `interpolation: nearest` (Keras's default); channels-last only."
    )

    class Config(StrictModel):
        type: Literal["up_sampling2d"] = "up_sampling2d"
        size: Ints2 = 2
        interpolation: Literal["nearest"] = Field(
            "nearest", description="Only nearest (Keras's default)."
        )

    def __init__(self, size: int | list[int] = 2, interpolation: str = "nearest"):
        super().__init__()
        self.size, self.interpolation = size, interpolation

    def build(
        self, in_shape: Shape, backend: Backend, rng: np.random.Generator
    ) -> Shape:
        super().build(in_shape, backend, rng)
        h, w, c = spatial(in_shape, 2, "up_sampling2d")
        self.sh, self.sw = as_pair(self.size, 2)
        return (h * self.sh, w * self.sw, c)

    def forward(self, x: Any, training: bool = False) -> tuple[Any, Any]:
        n, h, w, c = x.shape
        grid = self.xp.broadcast_to(
            x[:, :, None, :, None, :], (n, h, self.sh, w, self.sw, c)
        )  # a view
        return grid.reshape(n, h * self.sh, w * self.sw, c), x.shape  # one copy

    def backward(self, dy: Any, cache: Any, need_dx: bool = True) -> Any:
        n, h, w, c = cache
        return dy.reshape(n, h, self.sh, w, self.sw, c).sum(axis=(2, 4))

    def get_config(self) -> dict:
        return {
            "type": "up_sampling2d",
            "size": self.size,
            "interpolation": self.interpolation,
        }


@layers.register("zero_padding2d")
class ZeroPadding2D(Layer):
    """Zeros around each image: padding p, [rows, cols] or [[top, bottom], [left, right]]."""

    keras_difference = "Channels-last only: there is no `data_format` option."

    class Config(StrictModel):
        type: Literal["zero_padding2d"] = "zero_padding2d"
        padding: Padding2 = 1

    def __init__(self, padding: Any = 1) -> None:
        super().__init__()
        self.padding = padding
        if isinstance(padding, int):
            self.pads = ((padding, padding), (padding, padding))
        else:
            self.pads = tuple(
                (p, p) if isinstance(p, int) else (p[0], p[1]) for p in padding
            )

    def build(
        self, in_shape: Shape, backend: Backend, rng: np.random.Generator
    ) -> Shape:
        super().build(in_shape, backend, rng)
        h, w, c = spatial(in_shape, 2, "zero_padding2d")
        (top, bottom), (left, right) = self.pads
        return (h + top + bottom, w + left + right, c)

    def forward(self, x: Any, training: bool = False) -> tuple[Any, Any]:
        widths = ((0, 0), *self.pads, (0, 0))
        return self.xp.pad(x, widths), x.shape

    def backward(self, dy: Any, cache: Any, need_dx: bool = True) -> Any:
        (top, _), (left, _) = self.pads
        _, h, w, _ = cache
        return dy[:, top : top + h, left : left + w]

    def get_config(self) -> dict:
        return {"type": "zero_padding2d", "padding": self.padding}
