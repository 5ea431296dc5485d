"""Sliding windows over channels-last images: geometry, strided views, scatter-add.

Shared by the convolution and pooling layers. Everything works on 4-D arrays
(batch, height, width, channels); 1-D layers view (batch, length, channels) as
(batch, 1, length, channels). A window view is a strided view of the padded
input (no copy): view[n, i, j, a, b, c] = x[n, i*s_h + a*d_h, j*s_w + b*d_w, c].

Padding follows Keras (and TensorFlow/XLA): "valid" uses no padding and drops
trailing positions a window cannot cover; "same" gives ceil(size / stride)
outputs and pads total = max((out - 1) * stride + span - size, 0), putting
total // 2 before and the rest after; "causal" (1-D convolution) pads span - 1
before. Here span = dilation * (kernel - 1) + 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Pair = tuple[int, int]


@dataclass(frozen=True)
class Axis:
    """One spatial axis of a windowed op: sizes in, out and the padding."""

    size: int  # input size
    kernel: int
    stride: int
    dilation: int
    out: int
    lo: int  # padding before
    hi: int  # padding after

    @property
    def span(self) -> int:
        return self.dilation * (self.kernel - 1) + 1


def axis(
    size: int,
    kernel: int,
    stride: int,
    dilation: int,
    padding: str,
    what: tuple[str, str],
) -> Axis:
    """Output size and padding of one axis; ValueError if valid leaves nothing.

    `what` names the option and the axis for that message, e.g.
    ("kernel_size", "height").
    """
    span = dilation * (kernel - 1) + 1
    if padding == "valid":
        if span > size:
            option, dim = what
            grown = f" (dilated to {span})" if dilation > 1 else ""
            raise ValueError(
                f"{option} {kernel}{grown} is larger than the input {dim} {size} "
                f"with padding valid; use a smaller {option} or padding same"
            )
        return Axis(size, kernel, stride, dilation, (size - span) // stride + 1, 0, 0)
    if padding == "causal":
        out = (size - 1) // stride + 1
        return Axis(size, kernel, stride, dilation, out, span - 1, 0)
    out = -(-size // stride)  # same: ceil(size / stride)
    total = max((out - 1) * stride + span - size, 0)
    return Axis(size, kernel, stride, dilation, out, total // 2, total - total // 2)


def pad(xp: Any, x: Any, rows: Axis, cols: Axis, value: float = 0.0) -> Any:
    """x (n, h, w, c) padded by the axes' lo/hi (x itself when there is none)."""
    if not (rows.lo or rows.hi or cols.lo or cols.hi):
        return x
    widths = ((0, 0), (rows.lo, rows.hi), (cols.lo, cols.hi), (0, 0))
    return xp.pad(x, widths, constant_values=value)  # (n, h + pads, w + pads, c)


def windows(xp: Any, x: Any, rows: Axis, cols: Axis) -> Any:
    """Strided view (n, out_h, out_w, k_h, k_w, c) of a padded x (n, h, w, c)."""
    n, _, _, c = x.shape
    sn, sh, sw, sc = x.strides
    shape = (n, rows.out, cols.out, rows.kernel, cols.kernel, c)
    strides = (
        sn,
        sh * rows.stride,
        sw * cols.stride,
        sh * rows.dilation,
        sw * cols.dilation,
        sc,
    )
    return xp.lib.stride_tricks.as_strided(x, shape, strides)


def add_windows(xp: Any, out: Any, dwin: Any, rows: Axis, cols: Axis) -> None:
    """out[windows] += dwin: the adjoint of `windows` (col2im), in place.

    out: (n, h, w, c) padded; dwin: (n, out_h, out_w, k_h, k_w, c). When no two
    windows share a pixel, one strided add does it; otherwise the loop runs
    over the k_h * k_w kernel taps (never over pixels), each a strided add of
    a whole (n, out_h, out_w, c) slab.
    """
    if rows.stride >= rows.span and cols.stride >= cols.span:
        windows(xp, out, rows, cols)[...] += dwin  # disjoint windows
        return
    for a in range(rows.kernel):
        for b in range(cols.kernel):
            tap(out, rows, cols, a, b)[...] += dwin[:, :, :, a, b]


def tap(x: Any, rows: Axis, cols: Axis, a: int, b: int) -> Any:
    """View (n, out_h, out_w, c) of a padded x: kernel tap (a, b) of every window.

    tap(x)[n, i, j, c] = x[n, i*s_h + a*d_h, j*s_w + b*d_w, c], that is
    windows(x)[:, :, :, a, b], as a plain slice (no copy).
    """
    top, left = a * rows.dilation, b * cols.dilation
    h_end = top + rows.stride * (rows.out - 1) + 1
    w_end = left + cols.stride * (cols.out - 1) + 1
    return x[:, top : h_end : rows.stride, left : w_end : cols.stride]


def crop(x: Any, rows: Axis, cols: Axis) -> Any:
    """The unpadded (n, rows.size, cols.size, c) part of a padded x."""
    return x[:, rows.lo : rows.lo + rows.size, cols.lo : cols.lo + cols.size]


def as_pair(value: int | list[int] | tuple[int, ...], rank: int) -> Pair:
    """(rows, cols) from a Keras int-or-tuple option; rank 1 means (1, value)."""
    values = (value,) * rank if isinstance(value, int) else tuple(value)
    return (1, values[0]) if rank == 1 else (values[0], values[1])
