"""Convolution and pooling layers against plain-loop references, and their rules.

The references below loop over every output position in plain numpy, the
definition written out; nncli's layers must agree with them for random
kernels, strides, dilations, paddings and groups. Keras's own numbers are
in test_golden_conv.py; gradients in test_gradcheck_layers.py.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nncli.engine.backend import Backend
from nncli.engine.gradcheck import check_layer
from nncli.engine.layers import layers

F64 = Backend.from_name("numpy", dtype="float64")
RNG = np.random.default_rng(0)


def _build(cfg, in_shape, backend=F64):
    layer = layers.create(cfg)
    out = layer.build(in_shape, backend, np.random.default_rng(1))
    return layer, out


def _same_pads(size, kernel, stride, dilation):
    """TensorFlow's SAME padding, from its documentation."""
    span = dilation * (kernel - 1) + 1
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + span - size, 0)
    return total // 2, total - total // 2


def conv2d_reference(x, kernel, bias, strides, dilation, padding, groups):
    """y[n, i, j, f]: one output at a time, over its group's input channels."""
    n, h, w, c = x.shape
    kh, kw, cg, f = kernel.shape
    (sh, sw), (dh, dw) = strides, dilation
    if padding == "same":
        pads = (_same_pads(h, kh, sh, dh), _same_pads(w, kw, sw, dw))
        x = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    out_h = (x.shape[1] - dh * (kh - 1) - 1) // sh + 1
    out_w = (x.shape[2] - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((n, out_h, out_w, f))
    for i in range(out_h):
        for j in range(out_w):
            for o in range(f):
                g = o // (f // groups)
                patch = x[
                    :,
                    i * sh : i * sh + dh * (kh - 1) + 1 : dh,
                    j * sw : j * sw + dw * (kw - 1) + 1 : dw,
                    g * cg : (g + 1) * cg,
                ]  # (n, kh, kw, cg)
                y[:, i, j, o] = (patch * kernel[..., o]).sum(axis=(1, 2, 3)) + bias[o]
    return y


def pool2d_reference(x, pool, strides, padding, mode):
    n, h, w, c = x.shape
    (ph, pw), (sh, sw) = pool, strides
    top, left = 0, 0
    if padding == "same":
        (top, _), (left, _) = _same_pads(h, ph, sh, 1), _same_pads(w, pw, sw, 1)
        out_h, out_w = math.ceil(h / sh), math.ceil(w / sw)
    else:
        out_h, out_w = (h - ph) // sh + 1, (w - pw) // sw + 1
    y = np.zeros((n, out_h, out_w, c))
    for i in range(out_h):
        for j in range(out_w):
            r0, c0 = i * sh - top, j * sw - left
            window = x[:, max(r0, 0) : r0 + ph, max(c0, 0) : c0 + pw]  # real pixels
            reduce = np.max if mode == "max" else np.mean
            y[:, i, j] = reduce(window, axis=(1, 2))
    return y


@st.composite
def conv_configs(draw):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    strided = draw(st.booleans())
    strides = [draw(st.integers(1, 3)), draw(st.integers(1, 3))] if strided else [1, 1]
    dilation = [1, 1] if strided else [draw(st.integers(1, 2)), draw(st.integers(1, 2))]
    cfg = {
        "type": "conv2d",
        "filters": groups * draw(st.integers(1, 2)),
        "kernel_size": [kh, kw],
        "strides": strides,
        "dilation_rate": dilation,
        "padding": draw(st.sampled_from(["valid", "same"])),
        "groups": groups,
    }
    shape = (draw(st.integers(5, 7)), draw(st.integers(5, 7)), groups * 2)
    return cfg, shape


@settings(max_examples=25, deadline=None)
@given(conv_configs())
def test_conv2d_matches_the_loop_reference(case):
    cfg, shape = case
    layer, out = _build(cfg, shape)
    layer.params["bias"][...] = RNG.normal(size=layer.params["bias"].shape)
    x = RNG.normal(size=(2, *shape))
    y, _ = layer.forward(x)
    want = conv2d_reference(
        x,
        layer.params["kernel"],
        layer.params["bias"],
        cfg["strides"],
        cfg["dilation_rate"],
        cfg["padding"],
        cfg["groups"],
    )
    assert y.shape == (2, *out) == want.shape
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("channels", [1, 3, 5])
@pytest.mark.parametrize("strides", [1, 2])
def test_few_channel_patches_are_tap_major_with_the_same_numbers(
    channels, strides, monkeypatch
):
    """A first layer on images (c <= TAP_MAJOR_CHANNELS) keeps its patches
    tap-major; forward, input and kernel gradients equal the row-major
    layout's and the loop reference."""
    import nncli.engine.conv as conv_module

    cfg = {
        "type": "conv2d",
        "filters": 4,
        "kernel_size": 3,
        "strides": strides,
        "padding": "same",
    }
    x = RNG.normal(size=(3, 7, 6, channels))
    dy = None
    results = []
    for limit in (conv_module.TAP_MAJOR_CHANNELS, 0):
        monkeypatch.setattr(conv_module, "TAP_MAJOR_CHANNELS", limit)
        layer, _ = _build(cfg, x.shape[1:])
        y, cache = layer.forward(x, training=True)
        tap_major = not cache.cols[0].flags.c_contiguous
        assert tap_major == (channels <= limit)
        dy = RNG.normal(size=y.shape) if dy is None else dy
        dx = layer.backward(dy, cache)
        results.append((y, dx, layer.grads["kernel"].copy()))
        want = conv2d_reference(
            x,
            layer.params["kernel"],
            layer.params["bias"],
            [strides] * 2,
            [1, 1],
            "same",
            1,
        )
        np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("padding", ["valid", "same", "causal"])
def test_conv1d_is_conv2d_on_a_single_row(padding):
    cfg = {"type": "conv1d", "filters": 3, "kernel_size": 3, "dilation_rate": 2}
    layer, out = _build({**cfg, "padding": padding}, (9, 2))
    x = RNG.normal(size=(2, 9, 2))
    y, _ = layer.forward(x)
    if padding == "causal":  # = valid convolution of x with span - 1 zeros before it
        x = np.pad(x, ((0, 0), (4, 0), (0, 0)))
        padding = "valid"
    kernel = layer.params["kernel"][None]  # (1, k, in, filters)
    bias = layer.params["bias"]
    want = conv2d_reference(x[:, None], kernel, bias, (1, 1), (1, 2), padding, 1)
    assert y.shape[1:] == out
    np.testing.assert_allclose(y, want[:, 0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("kernel", "strides", "dilation"), [(3, 1, 1), (3, 2, 1), (2, 2, 1), (2, 1, 2)]
)
def test_conv2d_transpose_is_the_adjoint_of_conv2d(kernel, strides, dilation):
    """<conv(x), y> = <x, conv_transpose(y)> with the same (k, k, c, f) kernel."""
    span = dilation * (kernel - 1) + 1
    size = span + 2 * strides  # so that valid convolution uses every pixel
    common = {"kernel_size": kernel, "strides": strides, "dilation_rate": dilation}
    conv, out = _build({"type": "conv2d", "filters": 4, **common}, (size, size, 3))
    tconv, back = _build(
        {"type": "conv2d_transpose", "filters": 3, "use_bias": False, **common}, out
    )
    assert back == (size, size, 3)
    tconv.params["kernel"][...] = conv.params["kernel"]  # (k, k, 3, 4) both
    x, y = RNG.normal(size=(2, size, size, 3)), RNG.normal(size=(2, *out))
    forward = np.sum(conv.forward(x)[0] * y)
    adjoint = np.sum(x * tconv.forward(y)[0])
    assert forward == pytest.approx(adjoint, rel=1e-12)


def test_depthwise_is_a_per_channel_convolution():
    cfg = {"type": "depthwise_conv2d", "kernel_size": 3, "depth_multiplier": 2}
    layer, _ = _build({**cfg, "padding": "same", "use_bias": False}, (5, 6, 3))
    x = RNG.normal(size=(2, 5, 6, 3))
    y, _ = layer.forward(x)  # (2, 5, 6, 6): channel c * 2 + m
    kernel = layer.params["kernel"]  # (3, 3, 3, 2)
    for c in range(3):
        one = conv2d_reference(
            x[..., c : c + 1], kernel[:, :, c : c + 1], np.zeros(2), (1, 1), (1, 1),
            "same", 1,
        )  # fmt: skip
        np.testing.assert_allclose(y[..., 2 * c : 2 * c + 2], one, rtol=1e-12)


DEPTHWISE_GEOMETRIES = [
    ((3, 3), (1, 1), (1, 1), "same", 1),  # stride 1: flat-shifted taps
    ((2, 3), (1, 1), (2, 1), "valid", 2),
    ((3, 2), (1, 1), (1, 2), "same", 3),
    ((3, 3), (2, 1), (1, 1), "same", 1),  # strided: tap views
    ((2, 2), (2, 2), (2, 2), "valid", 2),
]


@pytest.mark.parametrize(
    ("kernel", "strides", "dilation", "padding", "m"), DEPTHWISE_GEOMETRIES
)
def test_depthwise_matches_the_reference_and_finite_differences(
    kernel, strides, dilation, padding, m
):
    cfg = {"type": "depthwise_conv2d", "kernel_size": list(kernel),
           "strides": list(strides), "dilation_rate": list(dilation),
           "padding": padding, "depth_multiplier": m}  # fmt: skip
    layer, out = _build(cfg, (6, 7, 2))
    layer.params["bias"][...] = RNG.normal(size=layer.params["bias"].shape)
    x = RNG.normal(size=(2, 6, 7, 2))
    y, _ = layer.forward(x)
    assert y.shape == (2, *out)
    kernel4 = layer.params["kernel"]  # (k_h, k_w, 2, m)
    for c in range(2):
        one = conv2d_reference(
            x[..., c : c + 1], kernel4[:, :, c : c + 1], layer.params["bias"][c * m :
            (c + 1) * m], strides, dilation, padding, 1,
        )  # fmt: skip
        np.testing.assert_allclose(y[..., c * m : (c + 1) * m], one, rtol=1e-12)
    check_layer(layer, x)
    cfg = {**cfg, "type": "separable_conv2d", "filters": 3}
    check_layer(_build(cfg, (6, 7, 2))[0], x)


def test_separable_is_depthwise_then_pointwise():
    sep, out = _build(
        {"type": "separable_conv2d", "filters": 4, "kernel_size": 2, "strides": 2},
        (6, 5, 3),
    )
    dw, _ = _build(
        {"type": "depthwise_conv2d", "kernel_size": 2, "strides": 2, "use_bias": False},
        (6, 5, 3),
    )
    dw.params["kernel"][...] = sep.params["depthwise_kernel"]
    sep.params["bias"][...] = RNG.normal(size=4)
    x = RNG.normal(size=(2, 6, 5, 3))
    mid = dw.forward(x)[0]
    want = mid @ sep.params["pointwise_kernel"][0, 0] + sep.params["bias"]
    np.testing.assert_allclose(sep.forward(x)[0], want, rtol=1e-12)
    assert out == want.shape[1:]


@pytest.mark.parametrize("mode", ["max", "average"])
@pytest.mark.parametrize(
    ("pool", "strides", "padding"),
    [((2, 2), (2, 2), "valid"), ((3, 2), (2, 1), "same"), ((3, 3), (1, 2), "valid"),
     ((2, 3), (3, 3), "same")],
)  # fmt: skip
def test_pooling_matches_the_loop_reference(mode, pool, strides, padding):
    cfg = {"type": f"{mode}_pooling2d", "pool_size": list(pool)}
    layer, out = _build(
        {**cfg, "strides": list(strides), "padding": padding}, (7, 5, 2)
    )
    x = RNG.normal(size=(3, 7, 5, 2))
    y, _ = layer.forward(x)
    want = pool2d_reference(x, pool, strides, padding, mode)
    assert y.shape == (3, *out) == want.shape
    np.testing.assert_allclose(y, want, rtol=1e-12)


def test_max_pooling_sends_a_tied_gradient_to_the_first_maximum():
    layer, _ = _build({"type": "max_pooling2d"}, (2, 2, 1))
    x = np.ones((1, 2, 2, 1))
    _, cache = layer.forward(x)
    dx = layer.backward(np.full((1, 1, 1, 1), 5.0), cache)
    np.testing.assert_array_equal(dx[0, :, :, 0], [[5.0, 0.0], [0.0, 0.0]])


def max_pool_backward_reference(x, dy, pool):
    """dx of valid max pooling (strides = pool): each window's dy to its first
    maximum in row-major order (np.argmax), one window at a time."""
    (ph, pw), dx = pool, np.zeros_like(x)
    for n, i, j, c in np.ndindex(dy.shape):
        window = x[n, i * ph : (i + 1) * ph, j * pw : (j + 1) * pw, c]
        a, b = np.unravel_index(np.argmax(window), window.shape)
        dx[n, i * ph + a, j * pw + b, c] += dy[n, i, j, c]
    return dx


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize(
    ("cfg", "shape"),
    [({"type": "max_pooling2d"}, (6, 8, 3)), ({"type": "max_pooling2d"}, (7, 9, 2)),
     ({"type": "max_pooling2d", "pool_size": [2, 3]}, (5, 7, 2)),
     ({"type": "max_pooling2d", "pool_size": 3}, (9, 10, 1)),
     ({"type": "max_pooling2d", "pool_size": [1, 1]}, (3, 4, 2)),
     ({"type": "max_pooling2d", "padding": "same"}, (6, 4, 2)),
     ({"type": "max_pooling1d"}, (9, 3)), ({"type": "max_pooling1d", "pool_size": 3}, (8, 2))],
)  # fmt: skip
def test_tiled_max_pooling_matches_the_general_path_and_the_loop(
    cfg, shape, training, dtype
):
    """Windows tiling the input take the tournament path; its numbers are the
    general path's bit for bit and the loop's, on inputs full of ties."""
    backend = Backend.from_name("numpy", dtype=dtype)
    fast, out = _build(cfg, shape, backend)
    general, _ = _build(cfg, shape, backend)
    general.tiled = False
    assert fast.tiled
    rng = np.random.default_rng(3)
    for x in (
        np.maximum(rng.normal(size=(4, *shape)), 0),  # relu: zero windows tie
        rng.integers(-2, 3, size=(4, *shape)).astype(float),
    ):
        x, dy = x.astype(dtype), rng.normal(size=(4, *out)).astype(dtype)
        y, cache = fast.forward(x, training=training)
        want_y, want_cache = general.forward(x, training=training)
        dx = fast.backward(dy, cache)
        np.testing.assert_array_equal(y, want_y)
        np.testing.assert_array_equal(dx, general.backward(dy, want_cache))
        assert y.dtype == dx.dtype == np.dtype(dtype)
        pool = (fast.rows.kernel, fast.cols.kernel)
        x4, dy4 = x.reshape(4, *fast.shape4), dy.reshape(4, *y.shape[1:-1], -1)
        if len(shape) == 2:
            dy4 = dy4[:, None]
        np.testing.assert_array_equal(y.reshape(dy4.shape), pool2d_reference(
            x4, pool, pool, "valid", "max"
        ))  # fmt: skip
        want_dx = max_pool_backward_reference(x4, dy4, pool)
        np.testing.assert_array_equal(dx.reshape(x4.shape), want_dx)


def test_default_max_pooling_takes_the_tiled_path(monkeypatch):
    from nncli.engine import pooling

    calls = []
    real = pooling._tournament
    monkeypatch.setattr(
        pooling, "_tournament", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    for cfg, shape in (
        ({"type": "max_pooling2d"}, (26, 26, 4)),
        (
            {"type": "max_pooling2d", "pool_size": [2, 2], "strides": [2, 2]},
            (11, 11, 4),
        ),
        ({"type": "max_pooling1d"}, (10, 4)),
    ):
        layer, _ = _build(cfg, shape)
        assert layer.tiled
        calls.clear()
        _, cache = layer.forward(np.zeros((2, *shape)), training=True)
        assert calls and isinstance(cache.arg, tuple)  # the bracket, not an arg
    for cfg in ({"type": "max_pooling2d", "strides": 1},
                {"type": "max_pooling2d", "pool_size": 3, "padding": "same"},
                {"type": "average_pooling2d", "pool_size": 2}):  # fmt: skip
        assert not _build(cfg, (7, 7, 1))[0].tiled


def test_global_max_pooling_splits_a_tied_gradient():
    layer, _ = _build({"type": "global_max_pooling1d"}, (4, 1))
    x = np.array([[[1.0], [3.0], [3.0], [2.0]]])
    _, cache = layer.forward(x)
    dx = layer.backward(np.array([[4.0]]), cache)
    np.testing.assert_array_equal(dx[0, :, 0], [0.0, 2.0, 2.0, 0.0])


def test_conv2d_workspace_for_a_64x28x28x32_batch():
    """The README's figure: one (50176, 288) float32 patch matrix, 57.8 MB."""
    be = Backend.from_name("numpy")
    cfg = {"type": "conv2d", "filters": 32, "kernel_size": 3, "padding": "same"}
    layer, _ = _build(cfg, (28, 28, 32), be)
    x = be.asarray(RNG.normal(size=(64, 28, 28, 32)))
    y, cache = layer.forward(x)
    assert y.dtype == np.float32 and cache.cols.dtype == np.float32
    assert cache.cols.shape == (1, 64 * 28 * 28, 3 * 3 * 32)
    assert cache.cols.nbytes == 57_802_752
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "(50176, 288) patch matrix = 57.8 MB" in readme


def test_shape_layers():
    up, out = _build({"type": "up_sampling2d", "size": [2, 3]}, (2, 2, 1))
    x = np.arange(4.0).reshape(1, 2, 2, 1)
    y = up.forward(x)[0][0, :, :, 0]
    assert out == (4, 6, 1) and y[:2, :3].tolist() == [[0.0] * 3] * 2
    assert y[3].tolist() == [2.0, 2.0, 2.0, 3.0, 3.0, 3.0]
    pad, out = _build(
        {"type": "zero_padding2d", "padding": [[1, 0], [0, 2]]}, (2, 2, 1)
    )
    y = pad.forward(x)[0][0, :, :, 0]
    assert out == (3, 4, 1) and y.tolist() == [[0] * 4, [0, 1, 0, 0], [2, 3, 0, 0]]
    perm, out = _build({"type": "permute", "dims": [2, 3, 1]}, (2, 3, 4))
    assert out == (3, 4, 2)
    x = RNG.normal(size=(2, 2, 3, 4))
    np.testing.assert_array_equal(perm.forward(x)[0], x.transpose(0, 2, 3, 1))
    reshape, out = _build({"type": "reshape", "target_shape": [4, -1]}, (2, 3, 4))
    assert out == (4, 6) and reshape.forward(x)[0].shape == (2, 4, 6)


def _noise_layer(cfg, shape):
    layer, _ = _build(cfg, shape, Backend.from_name("numpy"))
    return layer


@pytest.mark.parametrize("name", ["spatial_dropout1d", "spatial_dropout2d"])
def test_spatial_dropout_drops_whole_channels(name):
    shape = (6, 400) if name == "spatial_dropout1d" else (3, 4, 400)
    layer = _noise_layer({"type": name, "rate": 0.5, "seed": 3}, shape)
    x = np.ones((2, *shape), dtype=np.float32)
    y, _ = layer.forward(x, training=True)
    assert y.dtype == np.float32
    per_channel = y.reshape(2, -1, 400)
    assert (per_channel == per_channel[:, :1]).all()  # one draw per (sample, channel)
    assert set(np.unique(y)) == {0.0, 2.0} and 0.4 < (y == 0).mean() < 0.6
    np.testing.assert_array_equal(layer.forward(x, training=False)[0], x)
    again = _noise_layer({"type": name, "rate": 0.5, "seed": 3}, shape)
    np.testing.assert_array_equal(again.forward(x, training=True)[0], y)


def test_gaussian_noise_in_training_only():
    layer = _noise_layer({"type": "gaussian_noise", "stddev": 0.2, "seed": 1}, (1000,))
    x = np.full((20, 1000), 3.0, dtype=np.float32)
    y, _ = layer.forward(x, training=True)
    assert y.dtype == np.float32
    assert abs((y - x).std() - 0.2) < 0.01 and abs((y - x).mean()) < 0.01
    np.testing.assert_array_equal(layer.forward(x, training=False)[0], x)


CONFIGS = [
    {"type": "conv1d", "filters": 2, "kernel_size": [3], "padding": "causal"},
    {"type": "conv2d", "filters": 4, "kernel_size": 3, "groups": 2, "activation": "relu",
     "kernel_regularizer": "l2", "bias_constraint": {"type": "non_neg"}},
    {"type": "depthwise_conv2d", "kernel_size": [2, 3], "depth_multiplier": 3},
    {"type": "separable_conv2d", "filters": 3, "kernel_size": 2,
     "pointwise_regularizer": {"type": "l1", "l1": 0.1}},
    {"type": "conv2d_transpose", "filters": 2, "kernel_size": 3, "strides": 2,
     "output_padding": [1, 0]},
    {"type": "max_pooling2d", "pool_size": [3, 2], "padding": "same"},
    {"type": "average_pooling1d", "pool_size": 3},
    {"type": "global_average_pooling2d", "keepdims": True},
    {"type": "up_sampling2d", "size": [2, 1]},
    {"type": "zero_padding2d", "padding": [1, 2]},
    {"type": "reshape", "target_shape": [-1]},
    {"type": "permute", "dims": [2, 1]},
    {"type": "spatial_dropout2d", "rate": 0.1, "seed": 4},
    {"type": "gaussian_noise", "stddev": 0.1},
]  # fmt: skip


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c["type"])
def test_config_round_trips_with_every_default(cfg):
    dumped = layers.create(cfg).get_config()
    full = layers.get(cfg["type"]).Config(**cfg).model_dump()
    assert dumped == full  # what the resolved spec holds
    assert layers.create(dumped).get_config() == dumped


def test_weight_penalties_and_constraints_apply_to_conv_kernels():
    cfg = CONFIGS[1]
    layer, _ = _build(cfg, (5, 5, 2))
    assert set(layer.regularizers) == {"kernel"} and set(layer.constraints) == {"bias"}
    sep, _ = _build(CONFIGS[3], (5, 5, 2))
    assert set(sep.regularizers) == {"pointwise_kernel"}
    assert layer.activation_name == "relu"
