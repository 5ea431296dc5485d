"""Convolution, pooling and reshaping layers against Keras 3 (channels-last).

Per case: a fixed input `x` (batch 3), the layer's weights and an upstream
gradient `dy`; Keras's layer runs through `stateless_call` (inference mode)
and `jax.vjp` gives dx and the parameter gradients (float64). Recorded too:
Keras's `compute_output_shape` and `count_params`, and one SGD training step
(`train_on_batch`, learning rate 0.1, mean squared error) of the model
Dense(channels) -> layer -> Flatten -> Dense(2), so the layer's input gradient
drives the first Dense's update. The noise layers (SpatialDropout1D/2D,
GaussianNoise) are recorded at inference only: their training noise comes
from Keras's RNG, which nncli does not reproduce (their training-mode
gradients are covered by the finite-difference checks). `model_digits_cnn`
records the per-layer output shapes and parameter counts of
specs/digits_cnn.yaml's network, for `nncli summary`.
"""

from __future__ import annotations

import numpy as np
from common import Fixture

K = "keras.layers."
# (name, nncli config, Keras call, input shape without the batch axis)
CASES: list[tuple[str, dict, str, tuple[int, ...]]] = [
    (
        "conv1d",
        {"type": "conv1d", "filters": 3, "kernel_size": 3},
        "Conv1D(3, 3)",
        (9, 2),
    ),
    (
        "conv1d_same_strided_relu",
        {
            "type": "conv1d",
            "filters": 4,
            "kernel_size": 3,
            "strides": 2,
            "padding": "same",
            "activation": "relu",
        },
        "Conv1D(4, 3, strides=2, padding='same', activation='relu')",
        (8, 2),
    ),
    (
        "conv1d_causal_dilated",
        {
            "type": "conv1d",
            "filters": 2,
            "kernel_size": 2,
            "padding": "causal",
            "dilation_rate": 2,
        },
        "Conv1D(2, 2, padding='causal', dilation_rate=2)",
        (7, 3),
    ),
    (
        "conv1d_groups_no_bias",
        {
            "type": "conv1d",
            "filters": 4,
            "kernel_size": [3],
            "groups": 2,
            "use_bias": False,
        },
        "Conv1D(4, (3,), groups=2, use_bias=False)",
        (8, 4),
    ),
    (
        "conv2d",
        {"type": "conv2d", "filters": 3, "kernel_size": 3},
        "Conv2D(3, 3)",
        (6, 7, 2),
    ),
    (
        "conv2d_same_strided_sigmoid",
        {
            "type": "conv2d",
            "filters": 4,
            "kernel_size": [3, 2],
            "strides": [2, 3],
            "padding": "same",
            "activation": "sigmoid",
        },
        "Conv2D(4, (3, 2), strides=(2, 3), padding='same', activation='sigmoid')",
        (7, 8, 2),
    ),
    (
        "conv2d_even_kernel_same",
        {"type": "conv2d", "filters": 2, "kernel_size": 4, "padding": "same"},
        "Conv2D(2, 4, padding='same')",
        (5, 6, 3),
    ),
    (
        "conv2d_dilated_softmax",
        {
            "type": "conv2d",
            "filters": 3,
            "kernel_size": 3,
            "dilation_rate": [2, 1],
            "padding": "same",
            "activation": "softmax",
        },
        "Conv2D(3, 3, dilation_rate=(2, 1), padding='same', activation='softmax')",
        (6, 5, 2),
    ),
    (
        "conv2d_groups_strided",
        {"type": "conv2d", "filters": 6, "kernel_size": 2, "strides": 2, "groups": 3},
        "Conv2D(6, 2, strides=2, groups=3)",
        (5, 6, 3),
    ),
    (
        "depthwise_conv2d",
        {"type": "depthwise_conv2d", "kernel_size": 3},
        "DepthwiseConv2D(3)",
        (5, 6, 3),
    ),
    (
        "depthwise_conv2d_multiplier_strided_dilated",
        {
            "type": "depthwise_conv2d",
            "kernel_size": 2,
            "depth_multiplier": 2,
            "strides": 2,
            "dilation_rate": 2,
            "padding": "same",
            "activation": "elu",
        },
        "DepthwiseConv2D(2, depth_multiplier=2, strides=2, dilation_rate=2, "
        "padding='same', activation='elu')",
        (7, 6, 2),
    ),
    (
        "separable_conv2d",
        {"type": "separable_conv2d", "filters": 4, "kernel_size": 3},
        "SeparableConv2D(4, 3)",
        (5, 6, 3),
    ),
    (
        "separable_conv2d_multiplier_same_strided",
        {
            "type": "separable_conv2d",
            "filters": 3,
            "kernel_size": [2, 3],
            "depth_multiplier": 2,
            "strides": 2,
            "padding": "same",
            "activation": "relu",
        },
        "SeparableConv2D(3, (2, 3), depth_multiplier=2, strides=2, padding='same', "
        "activation='relu')",
        (6, 7, 2),
    ),
    (
        "conv2d_transpose",
        {"type": "conv2d_transpose", "filters": 3, "kernel_size": 3},
        "Conv2DTranspose(3, 3)",
        (3, 4, 2),
    ),
    (
        "conv2d_transpose_strided",
        {"type": "conv2d_transpose", "filters": 2, "kernel_size": 3, "strides": 2},
        "Conv2DTranspose(2, 3, strides=2)",
        (3, 4, 2),
    ),
    (
        "conv2d_transpose_strided_same",
        {
            "type": "conv2d_transpose",
            "filters": 2,
            "kernel_size": [3, 4],
            "strides": 2,
            "padding": "same",
            "activation": "relu",
        },
        "Conv2DTranspose(2, (3, 4), strides=2, padding='same', activation='relu')",
        (3, 4, 2),
    ),
    (
        "conv2d_transpose_stride_over_kernel",
        {"type": "conv2d_transpose", "filters": 2, "kernel_size": 2, "strides": 3},
        "Conv2DTranspose(2, 2, strides=3)",
        (3, 2, 2),
    ),
    (
        "conv2d_transpose_output_padding_same",
        {
            "type": "conv2d_transpose",
            "filters": 2,
            "kernel_size": 3,
            "strides": 2,
            "padding": "same",
            "output_padding": 1,
        },
        "Conv2DTranspose(2, 3, strides=2, padding='same', output_padding=1)",
        (3, 4, 2),
    ),
    (
        "conv2d_transpose_output_padding_valid",
        {
            "type": "conv2d_transpose",
            "filters": 2,
            "kernel_size": 2,
            "strides": 3,
            "output_padding": [1, 2],
            "use_bias": False,
        },
        "Conv2DTranspose(2, 2, strides=3, output_padding=(1, 2), use_bias=False)",
        (3, 2, 2),
    ),
    (
        "conv2d_transpose_dilated_same",
        {
            "type": "conv2d_transpose",
            "filters": 2,
            "kernel_size": 3,
            "dilation_rate": 2,
            "padding": "same",
        },
        "Conv2DTranspose(2, 3, dilation_rate=2, padding='same')",
        (4, 3, 2),
    ),
    ("max_pooling1d", {"type": "max_pooling1d"}, "MaxPooling1D()", (7, 3)),
    (
        "max_pooling1d_same_overlapping",
        {"type": "max_pooling1d", "pool_size": 3, "strides": 1, "padding": "same"},
        "MaxPooling1D(3, strides=1, padding='same')",
        (6, 2),
    ),
    ("max_pooling2d", {"type": "max_pooling2d"}, "MaxPooling2D()", (6, 7, 2)),
    (
        "max_pooling2d_same_overlapping",
        {"type": "max_pooling2d", "pool_size": 3, "strides": 2, "padding": "same"},
        "MaxPooling2D(3, strides=2, padding='same')",
        (6, 7, 2),
    ),
    (
        "average_pooling1d",
        {"type": "average_pooling1d", "pool_size": 2},
        "AveragePooling1D(2)",
        (7, 3),
    ),
    (
        "average_pooling1d_same",
        {"type": "average_pooling1d", "pool_size": 4, "strides": 3, "padding": "same"},
        "AveragePooling1D(4, strides=3, padding='same')",
        (8, 2),
    ),
    (
        "average_pooling2d",
        {"type": "average_pooling2d", "pool_size": [2, 2]},
        "AveragePooling2D((2, 2))",
        (6, 7, 2),
    ),
    (
        "average_pooling2d_same",
        {
            "type": "average_pooling2d",
            "pool_size": [3, 2],
            "strides": [2, 1],
            "padding": "same",
        },
        "AveragePooling2D((3, 2), strides=(2, 1), padding='same')",
        (5, 4, 2),
    ),
    (
        "global_max_pooling1d",
        {"type": "global_max_pooling1d"},
        "GlobalMaxPooling1D()",
        (5, 3),
    ),
    (
        "global_max_pooling2d_keepdims",
        {"type": "global_max_pooling2d", "keepdims": True},
        "GlobalMaxPooling2D(keepdims=True)",
        (4, 3, 2),
    ),
    (
        "global_average_pooling1d_keepdims",
        {"type": "global_average_pooling1d", "keepdims": True},
        "GlobalAveragePooling1D(keepdims=True)",
        (5, 3),
    ),
    (
        "global_average_pooling2d",
        {"type": "global_average_pooling2d"},
        "GlobalAveragePooling2D()",
        (4, 3, 2),
    ),
    ("up_sampling2d", {"type": "up_sampling2d"}, "UpSampling2D()", (3, 2, 2)),
    (
        "up_sampling2d_size",
        {"type": "up_sampling2d", "size": [1, 3]},
        "UpSampling2D((1, 3))",
        (3, 2, 2),
    ),
    ("zero_padding2d", {"type": "zero_padding2d"}, "ZeroPadding2D()", (3, 2, 2)),
    (
        "zero_padding2d_pairs",
        {"type": "zero_padding2d", "padding": [2, 0]},
        "ZeroPadding2D((2, 0))",
        (3, 2, 2),
    ),
    (
        "zero_padding2d_asymmetric",
        {"type": "zero_padding2d", "padding": [[1, 0], [2, 3]]},
        "ZeroPadding2D(((1, 0), (2, 3)))",
        (3, 2, 2),
    ),
    (
        "reshape",
        {"type": "reshape", "target_shape": [2, 6]},
        "Reshape((2, 6))",
        (3, 4),
    ),
    (
        "reshape_inferred",
        {"type": "reshape", "target_shape": [3, -1, 2]},
        "Reshape((3, -1, 2))",
        (2, 3, 2),
    ),
    ("permute", {"type": "permute", "dims": [2, 1]}, "Permute((2, 1))", (3, 4)),
    (
        "permute_rank3",
        {"type": "permute", "dims": [3, 1, 2]},
        "Permute((3, 1, 2))",
        (2, 3, 4),
    ),
    (
        "spatial_dropout1d_inference",
        {"type": "spatial_dropout1d", "rate": 0.3},
        "SpatialDropout1D(0.3)",
        (5, 3),
    ),
    (
        "spatial_dropout2d_inference",
        {"type": "spatial_dropout2d", "rate": 0.3},
        "SpatialDropout2D(0.3)",
        (3, 4, 2),
    ),
    (
        "gaussian_noise_inference",
        {"type": "gaussian_noise", "stddev": 0.5},
        "GaussianNoise(0.5)",
        (3, 4),
    ),
]
INFERENCE_ONLY = ("spatial_dropout1d", "spatial_dropout2d", "gaussian_noise")
STEP_LR = 0.1

# specs/digits_cnn.yaml's network, layer by layer, in Keras
DIGITS_CNN = [
    "Conv2D(16, 3, padding='same', activation='relu')",
    "Conv2D(32, 3, padding='same', activation='relu')",
    "MaxPooling2D(2)",
    "Flatten()",
    "Dropout(0.25)",
    "Dense(64, activation='relu')",
    "Dense(10, activation='softmax')",
]


def _layer(keras, call: str):
    return eval(K + call, {"keras": keras})  # noqa: S307 - our own table


def _vjp(layer, x, dy, weights):
    """(y, dx, parameter gradients) of the layer at inference."""
    import jax

    for var, value in zip(layer.trainable_variables, weights, strict=True):
        var.assign(value)

    def call(x, *params):
        fixed = [v.value for v in layer.non_trainable_variables]  # e.g. a seed
        kwargs = {"training": False} if layer._call_has_training_arg else {}
        out, _ = layer.stateless_call(list(params), fixed, x, **kwargs)
        return out

    y, vjp = jax.vjp(call, x, *[v.value for v in layer.trainable_variables])
    grads = vjp(dy)
    return np.asarray(y), np.asarray(grads[0]), [np.asarray(g) for g in grads[1:]]


def _draw(rng, shape) -> np.ndarray:
    return rng.normal(0.0, 0.6, shape)


def _sgd_step(keras, rng, call, x, layer_weights):
    """One train_on_batch of Dense(c) -> layer -> Flatten -> Dense(2)."""
    c = x.shape[-1]
    model = keras.Sequential(
        [
            keras.Input(x.shape[1:]),
            keras.layers.Dense(c),
            _layer(keras, call),
            keras.layers.Flatten(),
            keras.layers.Dense(2),
        ]
    )
    before = {}
    for i, layer in enumerate(model.layers):
        for var in layer.trainable_variables:
            given = layer_weights.get(var.name) if i == 1 else None
            value = given if given is not None else _draw(rng, var.shape)
            var.assign(value)
            before[f"layers.{i}.{var.name}"] = np.asarray(value)
    model.compile(optimizer=keras.optimizers.SGD(STEP_LR), loss="mse")
    target = rng.normal(size=(len(x), 2))
    loss = model.train_on_batch(x, target)
    after = {
        f"layers.{i}.{var.name}": np.asarray(var.value)
        for i, layer in enumerate(model.layers)
        for var in layer.trainable_variables
    }
    arrays = {"step_target": target, "step_loss": np.asarray(loss)}
    arrays.update({f"step_w0__{k}": v for k, v in before.items()})
    arrays.update({f"step_w1__{k}": v for k, v in after.items()})
    return arrays


def generate() -> Fixture:
    import keras

    rng = np.random.default_rng(20261204)
    fixture = Fixture(
        "conv",
        {
            "call": "layer.stateless_call(training=False) under jax.vjp",
            "layout": "channels_last; weights in Keras's layouts and names",
            "shapes": "out_shape = layer.compute_output_shape, count_params = "
            "layer.count_params(), both without the batch axis",
            "step": f"model Dense(c) -> layer -> Flatten -> Dense(2), "
            f"SGD({STEP_LR}).train_on_batch with mse; step_w0/step_w1 are the "
            "weights before and after by nncli name (layers.<i>.<param>)",
            "noise layers": "spatial dropout and gaussian noise at inference only "
            "(Keras's RNG is not reproduced); no training step",
            "summary": "model_digits_cnn: per-layer output shapes and "
            "count_params of specs/digits_cnn.yaml's network",
        },
    )
    for name, cfg, call, in_shape in CASES:
        x = rng.normal(size=(3, *in_shape))
        layer = _layer(keras, call)
        layer.build(x.shape)
        weights = [_draw(rng, v.shape) for v in layer.trainable_variables]
        names = [v.name for v in layer.trainable_variables]
        out_shape = tuple(layer.compute_output_shape(x.shape))[1:]
        dy = rng.normal(size=(3, *out_shape))
        y, dx, grads = _vjp(layer, x, dy, weights)
        assert y.shape[1:] == out_shape, (name, y.shape, out_shape)
        arrays = {"x": x, "dy": dy, "y": y, "dx": dx}
        arrays.update(dict(zip(names, weights)))
        arrays.update({f"grad_{n}": g for n, g in zip(names, grads)})
        arrays["out_shape"] = np.array(out_shape, dtype=np.int64)
        arrays["count_params"] = np.array(layer.count_params(), dtype=np.int64)
        if cfg["type"] not in INFERENCE_ONLY:
            arrays.update(_sgd_step(keras, rng, call, x, dict(zip(names, weights))))
        fixture.add(name, cfg, "keras.layers." + call, **arrays)

    model = keras.Sequential(
        [keras.Input((8, 8, 1)), *(_layer(keras, c) for c in DIGITS_CNN)]
    )
    fixture.add(
        "model_digits_cnn",
        {"spec": "specs/digits_cnn.yaml"},
        "keras.Sequential([" + ", ".join(K + c for c in DIGITS_CNN) + "])",
        out_shapes=np.array(
            [
                list(layer.output.shape[1:]) + [0] * (4 - layer.output.ndim)
                for layer in model.layers
            ],
            dtype=np.int64,
        ),
        count_params=np.array([ly.count_params() for ly in model.layers]),
    )
    return fixture
