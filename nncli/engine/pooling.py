"""Pooling, channels-last (Keras names and defaults).

MaxPooling1D/2D and AveragePooling1D/2D reduce strided window views of the
input (no Python loop over positions); GlobalMax/GlobalAveragePooling1D/2D
reduce the spatial axes. Keras 3 defaults: max pooling's pool_size 2 (1-D)
or (2, 2), average pooling's pool_size required, strides = pool_size,
padding valid, keepdims false for the global ones.

Padding same pads with -inf for max and, for the average, divides each sum by
the number of real (unpadded) inputs in its window, as Keras does on JAX and
TensorFlow. A window's gradient goes to its first maximum in row-major
window order; the global max splits it evenly among tied maxima, as JAX's
gradient of `max` does. Max windows that tile the input (pool_size = strides,
no padding: the default) take a knockout tournament between the taps instead,
with the same numbers bit for bit.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import numpy as np
from pydantic import Field

from nncli.engine.backend import Backend
from nncli.engine.conv import Ints1, Ints2, spatial
from nncli.engine.layers import Layer, layers
from nncli.engine.windows import (
    Axis,
    add_windows,
    as_pair,
    axis,
    crop,
    pad,
    tap,
    windows,
)
from nncli.registry import StrictModel

Shape = tuple[int, ...]


class PoolCache(NamedTuple):
    # max: the window index of each output's maximum; tiled max: the
    # tournament's bracket (None after an eval forward); average: None
    arg: Any
    shape: Shape  # the input shape, batch included
    x: Any = None  # tiled max: the input (n, h, w, c), to replay the bracket


class _Pooling(Layer):
    """Windowed max or mean of rank 1 or 2."""

    NAME, rank, mode = "", 2, "max"
    keras_difference = "Channels-last only: there is no `data_format` option."

    def __init__(self, **options: Any) -> None:
        super().__init__()
        self._config = self.Config(**options).model_dump(exclude={"type"})

    def build(
        self, in_shape: Shape, backend: Backend, rng: np.random.Generator
    ) -> Shape:
        super().build(in_shape, backend, rng)
        cfg = self._config
        h, w, c = spatial(in_shape, self.rank, self.NAME)
        strides = cfg["pool_size"] if cfg["strides"] is None else cfg["strides"]
        (kh, kw), (sh, sw) = (
            as_pair(cfg["pool_size"], self.rank),
            as_pair(strides, self.rank),
        )
        dims = ("length", "length") if self.rank == 1 else ("height", "width")
        padding = cfg["padding"]
        self.rows = axis(
            h, kh, sh, 1, "valid" if self.rank == 1 else padding, ("pool_size", dims[0])
        )
        self.cols = axis(w, kw, sw, 1, padding, ("pool_size", dims[1]))
        self.in_shape, self.shape4 = tuple(in_shape), (h, w, c)
        if self.mode == "average":
            self.counts = backend.asarray(_counts(self.rows, self.cols))
        # windows tiling the input (the default: pool_size = strides, valid)
        # take the tournament path, whose backward writes each pixel once
        self.tiled = self.mode == "max" and all(
            a.kernel == a.stride and not (a.lo or a.hi) for a in (self.rows, self.cols)
        )
        spatial_out = (
            (self.cols.out,) if self.rank == 1 else (self.rows.out, self.cols.out)
        )
        self.out_shape = (*spatial_out, c)
        return self.out_shape

    def forward(self, x: Any, training: bool = False) -> tuple[Any, PoolCache]:
        xp, n = self.xp, x.shape[0]
        x4 = x.reshape(n, *self.shape4)  # (n, h, w, c); 1-D: h = 1
        if self.tiled:
            return self._tiled_forward(x4, training)
        fill = -xp.inf if self.mode == "max" else 0.0
        win = windows(xp, pad(xp, x4, self.rows, self.cols, fill), self.rows, self.cols)
        if self.mode == "average":
            y = win.sum(axis=(3, 4)) / self.counts  # (n, out_h, out_w, c)
            return y.reshape(n, *self.out_shape), PoolCache(None, x.shape)
        # one pass per window tap over the whole output: a strict > keeps the
        # first maximum in row-major tap order, and `arg` remembers which tap
        kw = self.cols.kernel
        y = win[:, :, :, 0, 0].copy()  # (n, out_h, out_w, c)
        taps = self.rows.kernel * kw
        arg = xp.zeros(y.shape, dtype=xp.uint8 if taps < 256 else xp.int64)
        for t in range(1, taps):
            v = win[:, :, :, t // kw, t % kw]  # a strided view
            arg += (v > y) * (arg.dtype.type(t) - arg)  # = t where v > y (wraps)
            xp.maximum(y, v, out=y)
        return y.reshape(n, *self.out_shape), PoolCache(arg, x.shape)

    def _taps(self, x4: Any) -> list[Any]:
        """The k_h * k_w tap views (n, out_h, out_w, c) of x4, row-major."""
        rows, cols = self.rows, self.cols
        return [
            tap(x4, rows, cols, a, b)
            for a in range(rows.kernel)
            for b in range(cols.kernel)
        ]

    def _tiled_forward(self, x4: Any, training: bool) -> tuple[Any, PoolCache]:
        """Max over windows that tile the input (kernel = stride, no padding).

        A tournament over the taps in row-major order: each match keeps its
        left half on a tie (strict >), so the winner is the first maximum and
        `y` equals the general path's. Training caches the comparisons (the
        bracket) for backward; otherwise the input, for a backward that
        replays them.
        """
        taps = self._taps(x4)
        y, bracket = _tournament(self.xp, taps, keep=training)
        if len(taps) == 1:  # a 1 x 1 window: y is a view of x
            y = y.copy()
        shape = (x4.shape[0], *self.in_shape)
        y = y.reshape(x4.shape[0], *self.out_shape)
        return y, PoolCache(bracket, shape, None if training else x4)

    def backward(self, dy: Any, cache: PoolCache, need_dx: bool = True) -> Any:
        if not need_dx:
            return None
        xp, rows, cols = self.xp, self.rows, self.cols
        n = dy.shape[0]
        h, w, c = self.shape4
        dy4 = dy.reshape(n, rows.out, cols.out, c)
        if self.tiled:
            return self._tiled_backward(dy4, cache)
        dxp = xp.zeros((n, h + rows.lo + rows.hi, w + cols.lo + cols.hi, c), dy.dtype)
        if self.mode == "average":
            share = (dy4 / self.counts)[:, :, :, None, None, :]  # (n, oh, ow, 1, 1, c)
            dwin = xp.broadcast_to(share, (*dy4.shape[:3], rows.kernel, cols.kernel, c))
            add_windows(xp, dxp, dwin, rows, cols)
        else:
            # one tap's pixels differ for every output, so += is exact; where
            # windows are disjoint each pixel is written once, straight in place
            view = windows(xp, dxp, rows, cols)  # (n, oh, ow, k_h, k_w, c)
            disjoint = rows.stride >= rows.kernel and cols.stride >= cols.kernel
            for t in range(rows.kernel * cols.kernel):
                tap = view[:, :, :, t // cols.kernel, t % cols.kernel]
                if disjoint:
                    xp.multiply(dy4, cache.arg == t, out=tap)
                else:
                    tap += dy4 * (cache.arg == t)
        return crop(dxp, rows, cols).reshape(cache.shape)

    def _tiled_backward(self, dy4: Any, cache: PoolCache) -> Any:
        """Each tap of each window gets dy or 0, written once, straight in place.

        The taps cover every pixel but the rows and columns that valid
        padding cropped, so only those are zeroed.
        """
        xp, rows, cols = self.xp, self.rows, self.cols
        bracket = cache.arg
        if cache.x is not None:  # forward ran without training: replay the matches
            bracket = _tournament(xp, self._taps(cache.x), keep=True)[1]
        n, (h, w, c) = dy4.shape[0], self.shape4
        dx = xp.empty((n, h, w, c), dy4.dtype)
        dx[:, rows.out * rows.kernel :] = 0
        dx[:, :, cols.out * cols.kernel :] = 0
        _route(xp, dy4, bracket, self._taps(dx))
        return dx.reshape(cache.shape)

    def get_config(self) -> dict:
        return {"type": self.NAME, **self._config}


def _tournament(xp: Any, taps: list[Any], keep: bool) -> tuple[Any, Any]:
    """(max of the taps, bracket): a knockout between the halves of `taps`.

    bracket is None for one tap, else (right_won, left, right): right_won is
    the right half's maximum > the left's (so a tie goes left, to the first
    maximum in tap order), and left/right the halves' own brackets. With
    keep false no comparison is made and the bracket is None.
    """
    if len(taps) == 1:
        return taps[0], None
    half = len(taps) // 2
    a, left = _tournament(xp, taps[:half], keep)
    b, right = _tournament(xp, taps[half:], keep)
    won = (b > a, left, right) if keep else None
    # a tap view is the input itself: only a fresh array may take the result
    y = xp.maximum(a, b, out=a if half > 1 else b if len(taps) - half > 1 else None)
    return y, won


def _route(xp: Any, g: Any, bracket: Any, outs: list[Any], mask: Any = None) -> None:
    """outs[t] = g * (tap t won its window): the adjoint of _tournament.

    A tap's mask is the AND of the matches on its path (cheap boolean ops);
    the one multiply per tap writes straight into its strided view.
    """
    if bracket is None:
        if mask is None:  # a 1 x 1 window
            outs[0][...] = g
        else:
            xp.multiply(g, mask, out=outs[0])
        return
    right_won, left, right = bracket
    lost = ~right_won
    if mask is not None:
        lost &= mask
        right_won = right_won & mask
    half = len(outs) // 2
    _route(xp, g, left, outs[:half], lost)
    _route(xp, g, right, outs[half:], right_won)


def _counts(rows: Axis, cols: Axis) -> np.ndarray:
    """(out_h, out_w, 1): how many real inputs each window of ones covers."""
    ones = np.ones((1, rows.size, cols.size, 1))
    win = windows(np, pad(np, ones, rows, cols), rows, cols)
    return win.sum(axis=(3, 4))[0]  # (out_h, out_w, 1)


class _Pool1Config(StrictModel):
    pool_size: Ints1 = 2
    strides: Ints1 | None = Field(None, description="Default: pool_size.")
    padding: Literal["valid", "same"] = "valid"


class _Pool2Config(StrictModel):
    pool_size: Ints2 = 2
    strides: Ints2 | None = Field(None, description="Default: pool_size.")
    padding: Literal["valid", "same"] = "valid"


class _Average1Config(_Pool1Config):
    pool_size: Ints1  # required, as in Keras 3


class _Average2Config(_Pool2Config):
    pool_size: Ints2  # required, as in Keras 3


@layers.register("max_pooling1d", "max_pool1d")
class MaxPooling1D(_Pooling):
    """Maximum over windows of (length, channels)."""

    NAME, rank, mode = "max_pooling1d", 1, "max"

    class Config(_Pool1Config):
        type: Literal["max_pooling1d"] = "max_pooling1d"


@layers.register("max_pooling2d", "max_pool2d")
class MaxPooling2D(_Pooling):
    """Maximum over windows of (height, width, channels)."""

    NAME, rank, mode = "max_pooling2d", 2, "max"

    class Config(_Pool2Config):
        type: Literal["max_pooling2d"] = "max_pooling2d"


@layers.register("average_pooling1d", "avg_pool1d")
class AveragePooling1D(_Pooling):
    """Mean over windows of (length, channels)."""

    NAME, rank, mode = "average_pooling1d", 1, "average"

    class Config(_Average1Config):
        type: Literal["average_pooling1d"] = "average_pooling1d"


@layers.register("average_pooling2d", "avg_pool2d")
class AveragePooling2D(_Pooling):
    """Mean over windows of (height, width, channels)."""

    NAME, rank, mode = "average_pooling2d", 2, "average"

    class Config(_Average2Config):
        type: Literal["average_pooling2d"] = "average_pooling2d"


class _GlobalPooling(Layer):
    """Max or mean over every spatial axis: (n, ..., c) -> (n, c)."""

    NAME, rank, mode = "", 2, "max"
    keras_difference = "Channels-last only: there is no `data_format` option."

    def __init__(self, keepdims: bool = False) -> None:
        super().__init__()
        self.keepdims = keepdims

    def build(
        self, in_shape: Shape, backend: Backend, rng: np.random.Generator
    ) -> Shape:
        super().build(in_shape, backend, rng)
        spatial(in_shape, self.rank, self.NAME)
        self.axes = tuple(range(1, self.rank + 1))
        c = in_shape[-1]
        return (*(1,) * self.rank, c) if self.keepdims else (c,)

    def forward(self, x: Any, training: bool = False) -> tuple[Any, Any]:
        if self.mode == "average":
            y = x.mean(axis=self.axes, keepdims=True)  # (n, 1, [1,] c)
        else:
            y = x.max(axis=self.axes, keepdims=True)
        cache = x if self.mode == "max" else x.shape
        return (y if self.keepdims else y.reshape(len(x), -1)), (cache, y)

    def backward(self, dy: Any, cache: Any, need_dx: bool = True) -> Any:
        if not need_dx:
            return None
        x_or_shape, y = cache
        dy = dy.reshape(y.shape)  # (n, 1, [1,] c)
        if self.mode == "average":
            size = int(np.prod([x_or_shape[a] for a in self.axes]))
            return self.xp.broadcast_to(dy / size, x_or_shape).copy()
        tied = x_or_shape == y  # (n, ..., c); ties share the gradient
        count = tied.sum(axis=self.axes, keepdims=True, dtype=dy.dtype)
        return tied * (dy / count)

    def get_config(self) -> dict:
        return {"type": self.NAME, "keepdims": self.keepdims}


class _GlobalConfig(StrictModel):
    keepdims: bool = Field(False, description="Keep the spatial axes as size 1.")


@layers.register("global_max_pooling1d", "global_max_pool1d")
class GlobalMaxPooling1D(_GlobalPooling):
    """Maximum over the length axis: (length, c) -> (c,)."""

    NAME, rank, mode = "global_max_pooling1d", 1, "max"

    class Config(_GlobalConfig):
        type: Literal["global_max_pooling1d"] = "global_max_pooling1d"


@layers.register("global_max_pooling2d", "global_max_pool2d")
class GlobalMaxPooling2D(_GlobalPooling):
    """Maximum over height and width: (h, w, c) -> (c,)."""

    NAME, rank, mode = "global_max_pooling2d", 2, "max"

    class Config(_GlobalConfig):
        type: Literal["global_max_pooling2d"] = "global_max_pooling2d"


@layers.register("global_average_pooling1d", "global_avg_pool1d")
class GlobalAveragePooling1D(_GlobalPooling):
    """Mean over the length axis: (length, c) -> (c,)."""

    NAME, rank, mode = "global_average_pooling1d", 1, "average"

    class Config(_GlobalConfig):
        type: Literal["global_average_pooling1d"] = "global_average_pooling1d"


@layers.register("global_average_pooling2d", "global_avg_pool2d")
class GlobalAveragePooling2D(_GlobalPooling):
    """Mean over height and width: (h, w, c) -> (c,)."""

    NAME, rank, mode = "global_average_pooling2d", 2, "average"

    class Config(_GlobalConfig):
        type: Literal["global_average_pooling2d"] = "global_average_pooling2d"
