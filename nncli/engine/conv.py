"""Convolutions, channels-last (Keras names, defaults and weight layouts).

Conv1D, Conv2D, DepthwiseConv2D, SeparableConv2D and Conv2DTranspose. Each is
im2col + one GEMM: the padded input is viewed as windows without copying
(`windows.windows`), the view is copied once into a (M, K) matrix of patches,
M = batch * out_h * out_w and K = k_h * k_w * channels (the layer's workspace,
kept for backward), and a single matmul with the (K, filters) kernel gives
every output. Backward is two GEMMs (kernel gradient, patch gradient) and a
scatter-add of the patch gradient back into the input (col2im), which loops
over the k_h * k_w kernel taps, never over pixels (so the patch gradient is
made tap-major, one batched GEMM, each tap's slab contiguous). Grouped
convolutions use one batched matmul over the groups. DepthwiseConv2D (and the
depthwise step of SeparableConv2D) skips im2col: with one filter per channel
the GEMM would have a single column, so it sums k_h * k_w strided views of
the padded input times per-channel weights, and keeps only the padded input.

Workspace: a Conv2D with a 3x3 kernel on a (64, 28, 28, 32) float32 batch,
padding same, keeps a (50176, 288) patch matrix = 57.8 MB (115.6 MB in
float64), and backward makes a second one of the same size for the patch
gradient while it runs.

Kernel layouts follow Keras: Conv (k_h, k_w, in / groups, filters),
DepthwiseConv2D `kernel` (k_h, k_w, in, depth_multiplier), SeparableConv2D
`depthwise_kernel` (k_h, k_w, in, depth_multiplier) and `pointwise_kernel`
(1, 1, in * depth_multiplier, filters), Conv2DTranspose (k_h, k_w, filters,
in). Conv1D's kernel is (k, in / groups, filters). Keras defaults: strides 1,
padding valid, dilation 1, groups 1, linear activation, glorot_uniform
kernels, zero biases.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NamedTuple, Union

import numpy as np
from pydantic import BeforeValidator, Field, create_model, model_validator
from pydantic_core import PydanticCustomError

from nncli.engine.activations import activations
from nncli.engine.backend import Backend
from nncli.engine.constraints import constraints
from nncli.engine.initializers import initializers
from nncli.engine.layers import (
    ActivationRef,
    ConstraintRef,
    InitializerRef,
    Layer,
    RegularizerRef,
    _type_of,
    layers,
    sum_rows,
)
from nncli.engine.regularizers import regularizers
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


def int_or_list(n: int, low: int = 1) -> Any:
    """Pydantic type of a Keras int-or-tuple option: an int or a list of n ints.

    Anything else gets one plain message instead of one per union member.
    """

    kind = "positive integer" if low == 1 else "integer >= 0"

    def check(value: Any) -> Any:
        def fits(v: Any) -> bool:
            return (
                isinstance(v, int) and not isinstance(v, bool) and low <= v <= 100_000
            )

        if fits(value) or (
            isinstance(value, list) and len(value) == n and all(map(fits, value))
        ):
            return value
        raise PydanticCustomError(
            "int_or_list",
            "expected a {kind} or a list of {n}, got {value}",
            {"kind": kind, "n": n, "value": value},
        )

    item = Annotated[int, Field(ge=low, le=100_000)]
    items = Annotated[list[item], Field(min_length=n, max_length=n)]
    return Annotated[Union[item, items], BeforeValidator(check)]


Ints1 = int_or_list(1)
Ints2 = int_or_list(2)
Pads2 = int_or_list(2, low=0)
ACTIVITY_DOC = "Penalty on the output, divided by the batch size."


class ConvCache(NamedTuple):
    cols: Any  # (groups, M, K) patches; the padded input (depthwise, transpose)
    z: Any  # pre-activation
    y: Any  # output
    mid: Any = None  # SeparableConv2D: the depthwise output (M, in * multiplier)


def spatial(in_shape: Shape, rank: int, name: str) -> tuple[int, int, int]:
    """(height, width, channels) of a rank-1 or rank-2 channels-last input.

    A 1-D input (length, channels) is (1, length, channels).
    """
    if len(in_shape) != rank + 1:
        want = "(length, channels)" if rank == 1 else "(height, width, channels)"
        raise ValueError(
            f"{name} needs inputs of shape {want}, got shape {list(in_shape)}; "
            f"set model.input_shape or add a reshape layer before it"
        )
    if rank == 1:
        return 1, in_shape[0], in_shape[1]
    return in_shape[0], in_shape[1], in_shape[2]


# Inputs with at most this many channels (grayscale, RGB) get tap-major patches
TAP_MAJOR_CHANNELS = 4


def im2col(xp: Any, x4: Any, rows: Axis, cols: Axis, groups: int) -> Any:
    """Patches (groups, M, k_h * k_w * c / groups) of x4 (n, h, w, c): one copy.

    Few channels (a first layer on images): the patches are stored tap-major,
    (K, M), and returned as its transposed view, since a window row of one or
    three numbers makes a slow copy while one tap at a time is a plain strided
    copy of each image (64x28x28x1, 3x3: 0.96 -> 0.38 ms with the GEMM). BLAS
    takes either layout without a copy.
    """
    win = windows(xp, pad(xp, x4, rows, cols), rows, cols)  # view
    n, oh, ow, kh, kw, c = win.shape
    if groups == 1 and c <= TAP_MAJOR_CHANNELS:
        cols_t = xp.empty((kh * kw * c, n * oh * ow), dtype=x4.dtype)  # (K, M)
        for t in range(kh * kw):
            dst = cols_t[t * c : (t + 1) * c].reshape(c, n, oh, ow)
            dst[...] = win[:, :, :, t // kw, t % kw, :].transpose(3, 0, 1, 2)
        return cols_t.T[None]  # (1, M, K), a view
    win = win.reshape(n, oh, ow, kh, kw, groups, c // groups)  # still a view
    patches = xp.ascontiguousarray(win.transpose(5, 0, 1, 2, 3, 4, 6))  # workspace
    return patches.reshape(groups, n * oh * ow, kh * kw * (c // groups))


def col2im(xp: Any, dwin: Any, shape4: Shape, rows: Axis, cols: Axis) -> Any:
    """Input gradient (n, h, w, c) from patch gradients (n, oh, ow, k_h, k_w, c)."""
    n, _, _, c = shape4
    dxp = xp.zeros(
        (n, rows.size + rows.lo + rows.hi, cols.size + cols.lo + cols.hi, c),
        dtype=dwin.dtype,
    )  # (n, padded h, padded w, c)
    add_windows(xp, dxp, dwin, rows, cols)
    return crop(dxp, rows, cols)


def patch_grads(xp: Any, dz2: Any, kernel4: Any, shape4: Shape, rows, cols) -> Any:
    """d loss / d patches as (n, oh, ow, k_h, k_w, c), from dz2 (M, filters).

    Without groups it is one batched GEMM per kernel tap, (M, filters) @
    (filters, c), laid out tap-major so that each tap's slab, which col2im
    adds to the input gradient, is contiguous.
    """
    n, _, _, c = shape4
    kh, kw, cg, f = kernel4.shape
    g = c // cg
    if g == 1:
        taps = kernel4.reshape(kh * kw, c, f).transpose(0, 2, 1)  # (taps, f, c)
        d = xp.matmul(dz2, taps)  # (taps, M, c)
        return d.reshape(kh, kw, n, rows.out, cols.out, c).transpose(2, 3, 4, 0, 1, 5)
    dzg = dz2.reshape(dz2.shape[0], g, -1).transpose(1, 0, 2)  # (g, M, f / g)
    d = xp.matmul(dzg, grouped(kernel4, g).transpose(0, 2, 1))  # (g, M, K)
    d = d.reshape(g, n, rows.out, cols.out, kh, kw, cg)
    return d.transpose(1, 2, 3, 4, 5, 0, 6).reshape(n, rows.out, cols.out, kh, kw, c)


def grouped(kernel4: Any, groups: int) -> Any:
    """(groups, K, filters / groups) view of a (k_h, k_w, c / groups, filters) kernel."""
    kh, kw, cg, f = kernel4.shape
    return kernel4.reshape(kh * kw * cg, groups, f // groups).transpose(1, 0, 2)


def conv_forward(xp: Any, x4: Any, kernel4: Any, rows: Axis, cols: Axis, g: int):
    """(z (M, filters), patches) of a grouped convolution: one batched GEMM."""
    patches = im2col(xp, x4, rows, cols, g)  # (g, M, K)
    z = xp.matmul(patches, grouped(kernel4, g))  # (g, M, filters / g)
    return z.transpose(1, 0, 2).reshape(patches.shape[1], -1), patches


def conv_backward(xp, dz2, patches, kernel4, dkernel4, shape4, rows, cols, need_dx):
    """Fill dkernel4 (in place) and return dx4 (or None) of `conv_forward`."""
    g = patches.shape[0]
    if g == 1:  # (K, M) @ (M, filters) straight into the gradient
        xp.matmul(patches[0].T, dz2, out=dkernel4.reshape(-1, dz2.shape[1]))
    else:
        dzg = dz2.reshape(dz2.shape[0], g, -1).transpose(1, 0, 2)  # (g, M, f / g)
        dk = xp.matmul(patches.transpose(0, 2, 1), dzg)  # (g, K, filters / g)
        dkernel4[...] = dk.transpose(1, 0, 2).reshape(dkernel4.shape)
    if not need_dx:  # the first layer's input gradient is a wasted GEMM
        return None
    dwin = patch_grads(xp, dz2, kernel4, shape4, rows, cols)
    return col2im(xp, dwin, shape4, rows, cols)


def _wide(rows: Axis, cols: Axis) -> bool:
    """Stride 1: taps are flat offsets into the padded input (see depthwise_input)."""
    return rows.stride == 1 and cols.stride == 1


def depthwise_input(xp: Any, x: Any, rows: Axis, cols: Axis) -> Any:
    """The padded input (n, H, W, c) that the depthwise taps read (and the cache).

    With stride 1 it has one more zero row, so that every tap is a contiguous
    run of each image, out_h full padded rows long (see `_taps`).
    """
    if not _wide(rows, cols):
        return pad(xp, x, rows, cols)  # (n, H, W, c)
    n, h, w, c = x.shape
    buf = xp.zeros((n, h + rows.lo + rows.hi + 1, w + cols.lo + cols.hi, c), x.dtype)
    buf[:, rows.lo : rows.lo + h, cols.lo : cols.lo + w] = x  # (n, H + 1, W, c)
    return buf


def _taps(buf: Any, rows: Axis, cols: Axis):
    """(a, b, view) per kernel tap; view (n, out_h, w_out, c) of `buf`.

    Strided: tap() views, w_out = out_w. Stride 1: view[n, i, j] = buf[n, i + a
    * d_h, j + b * d_w] for j over the whole padded width W (w_out = W), a
    flat shift of each image, so that every elementwise op runs over long
    contiguous rows; the columns past out_w wrap around and are cropped away.
    """
    if not _wide(rows, cols):
        for a in range(rows.kernel):
            for b in range(cols.kernel):
                yield a, b, tap(buf, rows, cols, a, b)
        return
    n, _, w, c = buf.shape
    flat, size = buf.reshape(n, -1), rows.out * w * c  # (n, (H + 1) * W * c)
    for a in range(rows.kernel):
        for b in range(cols.kernel):
            start = (a * rows.dilation * w + b * cols.dilation) * c
            yield a, b, flat[:, start : start + size].reshape(n, rows.out, w, c)


def _tiled(xp: Any, kernel: Any, width: int) -> Any:
    """kernel (k_h, k_w, c, m) repeated along a row: (k_h, k_w, width, c, m).

    Multiplying by a whole row rather than a (c, m) block keeps numpy's inner
    loops long instead of c elements.
    """
    kh, kw, c, m = kernel.shape
    rows = xp.broadcast_to(kernel[:, :, None], (kh, kw, width, c, m))
    return xp.ascontiguousarray(rows)


def depthwise_forward(xp: Any, buf: Any, kernel: Any, rows: Axis, cols: Axis):
    """z (n, out_h, out_w, c, m) = sum over taps (a, b) of tap(x) * kernel[a, b].

    buf is `depthwise_input`'s padded input, kernel (k_h, k_w, c, m). No
    im2col: each channel has its own filter, so a GEMM would have one column;
    k_h * k_w broadcast multiply-adds of strided views do the same work.
    """
    n, _, _, c = buf.shape
    m = kernel.shape[3]
    z = tmp = k = None
    for a, b, v in _taps(buf, rows, cols):
        if z is None:
            z = xp.empty((*v.shape, m), dtype=buf.dtype)  # (n, out_h, w_out, c, m)
            tmp, k = xp.empty_like(z), _tiled(xp, kernel, v.shape[2])
        if a == 0 and b == 0:
            xp.multiply(v[..., None], k[a, b], out=z)
        else:
            xp.multiply(v[..., None], k[a, b], out=tmp)
            z += tmp
    return z[:, :, : cols.out]  # (n, out_h, out_w, c, m)


def depthwise_backward(xp, dz5, buf, kernel, dkernel, rows, cols, need_dx):
    """Fill dkernel (in place) and return dx (n, h, w, c) (or None).

    dz5 (n, out_h, out_w, c, m); buf as `depthwise_forward` had it. Per tap:
    dkernel[a, b] = sum over n, i, j of tap(x) * dz5, and dx's tap gets dz5 @
    kernel[a, b] (summed over m).
    """
    n, oh, ow, c, m = dz5.shape
    if _wide(rows, cols):  # zero columns past out_w: they meet wrapped pixels
        dzw = xp.zeros((n, oh, buf.shape[2], c, m), dtype=dz5.dtype)
        dzw[:, :, :ow] = dz5
        dz5 = dzw  # (n, out_h, W, c, m)
    for a, b, v in _taps(buf, rows, cols):
        dkernel[a, b] = xp.einsum("nijc,nijcm->cm", v, dz5)
    if not need_dx:
        return None
    dbuf = xp.zeros_like(buf)
    tmp = xp.empty(dz5.shape[:4], dtype=dz5.dtype)  # (n, out_h, w_out, c)
    k = _tiled(xp, kernel, dz5.shape[2])  # (k_h, k_w, w_out, c, m)
    for a, b, v in _taps(dbuf, rows, cols):
        if m == 1:
            xp.multiply(dz5[..., 0], k[a, b, :, :, 0], out=tmp)
        else:
            tmp = xp.einsum("nijcm,jcm->nijc", dz5, k[a, b])
        v += tmp
    return crop(dbuf, rows, cols)


class _Weighted(Layer):
    """A layer with Dense's options: activation, initializers, penalties, constraints.

    PREFIXES maps each parameter to its option prefix (Keras's names):
    `kernel` -> kernel_initializer, kernel_regularizer, kernel_constraint.
    """

    NAME = ""
    PREFIXES: dict[str, str] = {}
    keras_difference = (
        "Channels-last only: there is no `data_format` (nor `lora_rank`) option."
    )

    def __init__(self, **options: Any) -> None:
        super().__init__()
        self._config = self.Config(**options).model_dump(exclude={"type"})
        cfg = self._config
        self.use_bias = cfg["use_bias"]
        self.activation = activations.create(cfg["activation"])
        self.activation_name = activations.canonical(_type_of(cfg["activation"]))
        for param, prefix in self.PREFIXES.items():
            if param == "bias" and not self.use_bias:
                continue
            if cfg[f"{prefix}_regularizer"] is not None:
                self.regularizers[param] = regularizers.create(
                    cfg[f"{prefix}_regularizer"]
                )
            if cfg[f"{prefix}_constraint"] is not None:
                self.constraints[param] = constraints.create(
                    cfg[f"{prefix}_constraint"]
                )
        if cfg["activity_regularizer"] is not None:
            self.activity_regularizer = regularizers.create(cfg["activity_regularizer"])

    def _draw(
        self, param: str, shape: Shape, rng: np.random.Generator, backend: Backend
    ) -> None:
        init = initializers.create(self._config[f"{self.PREFIXES[param]}_initializer"])
        self.params[param] = backend.asarray(init(rng, shape))

    def _draw_bias(self, units: int, rng, backend) -> None:
        if self.use_bias:
            self._draw("bias", (units,), rng, backend)

    def _finish_build(self) -> None:
        for name, con in self.constraints.items():
            con.check_rank(self.params[name].ndim, f"{self.PREFIXES[name]}_constraint")
        self.grads = {k: self.xp.zeros_like(v) for k, v in self.params.items()}

    def backward(self, dy: Any, cache: ConvCache, need_dx: bool = True) -> Any:
        dz = self.activation.backward(dy, cache.z, cache.y)
        return self.backward_from_logits(dz, cache, need_dx)

    def backward_from_logits(self, dz, cache, need_dx=True) -> Any:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"type": self.NAME, **self._config}


def _options(*weights: str) -> type[StrictModel]:
    """Keras's options after the geometry, in Keras's order, for weights + bias.

    activation, use_bias, then each weight's (and the bias's) initializer,
    regularizer, the activity regularizer, then each constraint. Config
    classes list their bases in reverse (pydantic puts the last base's fields
    first), so a spec reference reads filters, kernel_size, ... as in Keras.
    """
    names = (*weights, "bias")
    fields: dict[str, Any] = {"activation": (ActivationRef, "linear")}
    fields["use_bias"] = (bool, True)
    for w in names:
        init = "zeros" if w == "bias" else "glorot_uniform"
        fields[f"{w}_initializer"] = (InitializerRef, init)
    for w in names:
        fields[f"{w}_regularizer"] = (RegularizerRef | None, None)
    fields["activity_regularizer"] = (
        RegularizerRef | None,
        Field(None, description=ACTIVITY_DOC),
    )
    for w in names:
        fields[f"{w}_constraint"] = (ConstraintRef | None, None)
    return create_model(f"_{'_'.join(weights)}_options", __base__=StrictModel, **fields)


_KernelOptions = _options("kernel")
_DepthwiseOptions = _options("depthwise")
_SeparableOptions = _options("depthwise", "pointwise")


class _Filters(StrictModel):
    filters: int = Field(gt=0, le=1_000_000, description="Output channels.")


class _Window1(StrictModel):
    kernel_size: Ints1
    strides: Ints1 = 1
    padding: Literal["valid", "same", "causal"] = "valid"
    dilation_rate: Ints1 = 1


class _Window2(StrictModel):
    kernel_size: Ints2
    strides: Ints2 = 1
    padding: Literal["valid", "same"] = "valid"
    dilation_rate: Ints2 = 1


class _Groups(StrictModel):
    groups: int = Field(1, gt=0, le=100_000, description="Channel groups.")


class _Multiplier(StrictModel):
    depth_multiplier: int = Field(
        1, gt=0, le=100_000, description="Output channels per input channel."
    )


def _most(value: int | list[int]) -> int:
    return value if isinstance(value, int) else max(value)


def _no_strided_dilation(cfg: Any) -> None:
    """Keras refuses strides > 1 together with dilation_rate > 1 (base_conv.py)."""
    if _most(cfg.strides) > 1 and _most(cfg.dilation_rate) > 1:
        raise ValueError(
            f"strides {cfg.strides} > 1 cannot be combined with dilation_rate "
            f"{cfg.dilation_rate} > 1 (as in Keras)"
        )


class _Conv(_Weighted):
    """Grouped convolution of rank 1 or 2: z = conv(x, kernel) + bias."""

    rank = 2
    PREFIXES = {"kernel": "kernel", "bias": "bias"}

    def _groups(self, channels: int) -> int:
        return self._config["groups"]

    def _filters(self, channels: int) -> int:
        return self._config["filters"]

    def _kernel_shape(self, kernel: Shape, channels: int) -> Shape:
        return (*kernel, channels // self.groups, self.filters)

    def build(
        self, in_shape: Shape, backend: Backend, rng: np.random.Generator
    ) -> Shape:
        super().build(in_shape, backend, rng)
        cfg = self._config
        h, w, c = spatial(in_shape, self.rank, self.NAME)
        self.groups, self.filters = self._groups(c), self._filters(c)
        if c % self.groups:
            raise ValueError(
                f"groups={self.groups} does not divide the input's {c} channels"
            )
        (kh, kw), (sh, sw), (dh, dw) = (
            as_pair(cfg[k], self.rank)
            for k in ("kernel_size", "strides", "dilation_rate")
        )
        dims = ("length", "length") if self.rank == 1 else ("height", "width")
        rows_padding = "valid" if self.rank == 1 else cfg["padding"]  # h = 1
        self.rows = axis(h, kh, sh, dh, rows_padding, ("kernel_size", dims[0]))
        self.cols = axis(w, kw, sw, dw, cfg["padding"], ("kernel_size", dims[1]))
        kernel = (kw,) if self.rank == 1 else (kh, kw)
        self._draw("kernel", self._kernel_shape(kernel, c), rng, backend)
        self._draw_bias(self.filters, rng, backend)
        self._finish_build()
        self.in_shape, self.shape4 = tuple(in_shape), (h, w, c)
        self.out_spatial = (
            (self.cols.out,) if self.rank == 1 else (self.rows.out, self.cols.out)
        )
        return (*self.out_spatial, self.filters)

    def _kernel4(self, kernel: Any) -> Any:
        """The kernel as (k_h, k_w, c / groups, filters), a view."""
        return kernel.reshape(self.rows.kernel, self.cols.kernel, -1, self.filters)

    def forward(self, x: Any, training: bool = False) -> tuple[Any, ConvCache]:
        n = x.shape[0]
        x4 = x.reshape(n, *self.shape4)  # (n, h, w, c); 1-D: h = 1, a view
        kernel4 = self._kernel4(self.params["kernel"])
        z, patches = conv_forward(
            self.xp, x4, kernel4, self.rows, self.cols, self.groups
        )
        if self.use_bias:
            z += self.params["bias"]  # (M, filters), a fresh array
        z = z.reshape(n, *self.out_spatial, self.filters)
        y = self.activation.forward(z)
        return y, ConvCache(patches, z, y)

    def backward_from_logits(
        self, dz: Any, cache: ConvCache, need_dx: bool = True
    ) -> Any:
        dz2 = dz.reshape(-1, self.filters)  # (M, filters)
        if self.use_bias:
            sum_rows(self.xp, dz2, self.grads["bias"])
        n = dz.shape[0]
        dx4 = conv_backward(
            self.xp,
            dz2,
            cache.cols,
            self._kernel4(self.params["kernel"]),
            self._kernel4(self.grads["kernel"]),
            (n, *self.shape4),
            self.rows,
            self.cols,
            need_dx,
        )
        return None if dx4 is None else dx4.reshape(n, *self.in_shape)


class _ConvRules(StrictModel):
    @model_validator(mode="after")
    def _keras_rules(self) -> _ConvRules:
        _no_strided_dilation(self)
        if self.filters % self.groups:
            raise ValueError(
                f"filters {self.filters} is not a multiple of groups {self.groups}"
            )
        return self


@layers.register("conv1d", "convolution1d")
class Conv1D(_Conv):
    """1-D convolution over (length, channels); padding valid, same or causal."""

    NAME, rank = "conv1d", 1

    class Config(_ConvRules, _KernelOptions, _Groups, _Window1, _Filters):
        type: Literal["conv1d"] = "conv1d"


@layers.register("conv2d", "convolution2d")
class Conv2D(_Conv):
    """2-D convolution over (height, width, channels); padding valid or same."""

    NAME, rank = "conv2d", 2

    class Config(_ConvRules, _KernelOptions, _Groups, _Window2, _Filters):
        type: Literal["conv2d"] = "conv2d"


@layers.register("depthwise_conv2d")
class DepthwiseConv2D(_Conv):
    """Each input channel convolved with its own depth_multiplier filters.

    Output channel c * depth_multiplier + m comes from input channel c and
    kernel[..., c, m] (Keras's order); the kernel is Keras 3's `kernel`
    (k_h, k_w, in, depth_multiplier), options `depthwise_*`. Strides and
    dilation may be combined, as Keras allows here.
    """

    NAME, rank = "depthwise_conv2d", 2
    PREFIXES = {"kernel": "depthwise", "bias": "bias"}

    class Config(_DepthwiseOptions, _Multiplier, _Window2):
        type: Literal["depthwise_conv2d"] = "depthwise_conv2d"

    def _groups(self, channels: int) -> int:
        return channels

    def _filters(self, channels: int) -> int:
        return channels * self._config["depth_multiplier"]

    def _kernel_shape(self, kernel: Shape, channels: int) -> Shape:
        return (*kernel, channels, self._config["depth_multiplier"])

    def forward(self, x: Any, training: bool = False) -> tuple[Any, ConvCache]:
        xpad = depthwise_input(self.xp, x, self.rows, self.cols)
        z = depthwise_forward(
            self.xp, xpad, self.params["kernel"], self.rows, self.cols
        )
        z = z.reshape(*z.shape[:3], self.filters)  # (n, out_h, out_w, c * m)
        if self.use_bias:
            z += self.params["bias"]
        y = self.activation.forward(z)
        return y, ConvCache(xpad, z, y)

    def backward_from_logits(
        self, dz: Any, cache: ConvCache, need_dx: bool = True
    ) -> Any:
        if self.use_bias:
            dz.sum(axis=(0, 1, 2), out=self.grads["bias"])
        kernel = self.params["kernel"]
        return depthwise_backward(
            self.xp,
            dz.reshape(*dz.shape[:3], *kernel.shape[2:]),  # (n, oh, ow, c, m)
            cache.cols,
            kernel,
            self.grads["kernel"],
            self.rows,
            self.cols,
            need_dx,
        )


@layers.register("separable_conv2d", "separable_convolution2d")
class SeparableConv2D(_Weighted):
    """Depthwise convolution, then a 1x1 (pointwise) one to `filters` channels.

    z = pointwise(depthwise(x)) + bias, as Keras: the depthwise step takes the
    strides, padding and dilation and has no bias.
    """

    NAME = "separable_conv2d"
    PREFIXES = {
        "depthwise_kernel": "depthwise",
        "pointwise_kernel": "pointwise",
        "bias": "bias",
    }

    class Config(_SeparableOptions, _Multiplier, _Window2, _Filters):
        type: Literal["separable_conv2d"] = "separable_conv2d"

    def build(
        self, in_shape: Shape, backend: Backend, rng: np.random.Generator
    ) -> Shape:
        super().build(in_shape, backend, rng)
        cfg = self._config
        h, w, c = spatial(in_shape, 2, self.NAME)
        (kh, kw), (sh, sw), (dh, dw) = (
            as_pair(cfg[k], 2) for k in ("kernel_size", "strides", "dilation_rate")
        )
        self.rows = axis(h, kh, sh, dh, cfg["padding"], ("kernel_size", "height"))
        self.cols = axis(w, kw, sw, dw, cfg["padding"], ("kernel_size", "width"))
        m, f = cfg["depth_multiplier"], cfg["filters"]
        self._draw("depthwise_kernel", (kh, kw, c, m), rng, backend)
        self._draw("pointwise_kernel", (1, 1, c * m, f), rng, backend)
        self._draw_bias(f, rng, backend)
        self._finish_build()
        self.shape4, self.mid_channels, self.filters = (h, w, c), c * m, f
        return (self.rows.out, self.cols.out, f)

    def forward(self, x: Any, training: bool = False) -> tuple[Any, ConvCache]:
        xp, dk = self.xp, self.params["depthwise_kernel"]
        xpad = depthwise_input(xp, x, self.rows, self.cols)
        mid = depthwise_forward(xp, xpad, dk, self.rows, self.cols)
        mid = mid.reshape(-1, self.mid_channels)  # (M, c * m)
        z = mid @ self.params["pointwise_kernel"].reshape(self.mid_channels, -1)
        if self.use_bias:
            z += self.params["bias"]  # (M, filters)
        z = z.reshape(x.shape[0], self.rows.out, self.cols.out, self.filters)
        y = self.activation.forward(z)
        return y, ConvCache(xpad, z, y, mid)

    def backward_from_logits(
        self, dz: Any, cache: ConvCache, need_dx: bool = True
    ) -> Any:
        xp = self.xp
        dz2 = dz.reshape(-1, self.filters)  # (M, filters)
        if self.use_bias:
            sum_rows(self.xp, dz2, self.grads["bias"])
        pw = self.params["pointwise_kernel"].reshape(self.mid_channels, -1)
        dpw = self.grads["pointwise_kernel"].reshape(self.mid_channels, -1)
        xp.matmul(cache.mid.T, dz2, out=dpw)  # (c*m, filters), in place
        dmid = dz2 @ pw.T  # (M, c*m)
        kernel = self.params["depthwise_kernel"]
        return depthwise_backward(
            xp,
            dmid.reshape(*dz.shape[:3], *kernel.shape[2:]),  # (n, oh, ow, c, m)
            cache.cols,
            kernel,
            self.grads["depthwise_kernel"],
            self.rows,
            self.cols,
            need_dx,
        )


class _TransposeWindow(StrictModel):
    kernel_size: Ints2
    strides: Ints2 = 1
    padding: Literal["valid", "same"] = "valid"
    output_padding: Pads2 | None = Field(
        None, description="Extra rows/columns at the end; below strides."
    )
    dilation_rate: Ints2 = 1

    @model_validator(mode="after")
    def _keras_rules(self) -> _TransposeWindow:
        _no_strided_dilation(self)
        if self.output_padding is not None:
            pads = as_pair(self.output_padding, 2)
            if any(p >= s for p, s in zip(pads, as_pair(self.strides, 2))):
                raise ValueError(
                    f"output_padding {self.output_padding} must be less than "
                    f"strides {self.strides} (as in Keras)"
                )
        return self


@layers.register("conv2d_transpose", "convolution2d_transpose")
class Conv2DTranspose(_Weighted):
    """Transposed 2-D convolution: the input gradient of a Conv2D, as a layer.

    Every input pixel scatters x[n, i, j] @ kernel[a, b].T into the output at
    (i * stride + a * dilation, j * stride + b * dilation), then the result is
    cropped: out = (in - 1) * stride + 2 - span + left + right with Keras's
    JAX paddings (backend_utils._convert_conv_transpose_padding_args_from_
    keras_to_jax): valid: left = span - 1, right = span - 1 + output_padding
    (default max(span, stride) - span), so out = (in - 1) * stride +
    max(span, stride); same: pad = stride + span - 2 (or span + span % 2 - 2 +
    output_padding), left = min(ceil(pad / 2), span - 1), so out = in * stride.
    Kernel (k_h, k_w, filters, in), as Keras.
    """

    NAME = "conv2d_transpose"
    PREFIXES = {"kernel": "kernel", "bias": "bias"}

    class Config(_KernelOptions, _TransposeWindow, _Filters):
        type: Literal["conv2d_transpose"] = "conv2d_transpose"

    def build(
        self, in_shape: Shape, backend: Backend, rng: np.random.Generator
    ) -> Shape:
        super().build(in_shape, backend, rng)
        cfg = self._config
        h, w, c = spatial(in_shape, 2, self.NAME)
        ks, ss, ds = (
            as_pair(cfg[k], 2) for k in ("kernel_size", "strides", "dilation_rate")
        )
        ops = (
            (None, None)
            if cfg["output_padding"] is None
            else as_pair(cfg["output_padding"], 2)
        )
        self.rows, self.row_crop = _transpose_axis(h, ks[0], ss[0], ds[0], cfg, ops[0])
        self.cols, self.col_crop = _transpose_axis(w, ks[1], ss[1], ds[1], cfg, ops[1])
        self.filters = f = cfg["filters"]
        self._draw("kernel", (*ks, f, c), rng, backend)
        self._draw_bias(f, rng, backend)
        self._finish_build()
        self.in_channels = c
        return (self.row_crop[1], self.col_crop[1], f)

    def _kmat(self, kernel: Any) -> Any:
        return kernel.reshape(-1, self.in_channels)  # (k_h * k_w * filters, in)

    def forward(self, x: Any, training: bool = False) -> tuple[Any, ConvCache]:
        xp, rows, cols = self.xp, self.rows, self.cols
        n, h, w, c = x.shape
        scattered = x.reshape(-1, c) @ self._kmat(self.params["kernel"]).T  # (M, K)
        full = xp.zeros((n, rows.size, cols.size, self.filters), dtype=x.dtype)
        dwin = scattered.reshape(n, h, w, rows.kernel, cols.kernel, self.filters)
        add_windows(xp, full, dwin, rows, cols)
        (top, oh), (left, ow) = self.row_crop, self.col_crop
        z = full[:, top : top + oh, left : left + ow]  # (n, out_h, out_w, filters)
        if self.use_bias:
            z = z + self.params["bias"]
        y = self.activation.forward(z)
        return y, ConvCache(x, z, y)

    def backward_from_logits(
        self, dz: Any, cache: ConvCache, need_dx: bool = True
    ) -> Any:
        xp, rows, cols, x = self.xp, self.rows, self.cols, cache.cols
        if self.use_bias:
            dz.sum(axis=(0, 1, 2), out=self.grads["bias"])
        (top, oh), (left, ow) = self.row_crop, self.col_crop
        dfull = xp.zeros((len(x), rows.size, cols.size, self.filters), dtype=dz.dtype)
        dfull[:, top : top + oh, left : left + ow] = dz
        n, h, w, _ = x.shape
        dcols = windows(xp, dfull, rows, cols).reshape(n * h * w, -1)  # (M, K), copy
        x2 = x.reshape(-1, self.in_channels)  # (M, in)
        xp.matmul(dcols.T, x2, out=self._kmat(self.grads["kernel"]))
        if not need_dx:
            return None
        return (dcols @ self._kmat(self.params["kernel"])).reshape(x.shape)


def _transpose_axis(
    size: int, kernel: int, stride: int, dilation: int, cfg: dict, op: int | None
) -> tuple[Axis, tuple[int, int]]:
    """The scatter buffer's axis (windows = input pixels) and (crop start, out)."""
    span = dilation * (kernel - 1) + 1
    if cfg["padding"] == "valid":
        op = max(span, stride) - span if op is None else op
        left, right = span - 1, span - 1 + op
    else:
        pad_len = stride + span - 2 if op is None else span + span % 2 - 2 + op
        left = min(pad_len // 2 + pad_len % 2, span - 1)
        right = pad_len - left
    out = (size - 1) * stride + 2 - span + left + right
    start = span - 1 - left  # where the output begins in the scatter buffer
    full = max((size - 1) * stride + span, start + out)
    if out <= 0:
        raise ValueError(f"the output would have size {out}; check kernel_size")
    return Axis(full, kernel, stride, dilation, size, 0, 0), (start, out)
