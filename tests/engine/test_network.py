"""Sequential and Model: names, snapshots, shapes and the fused loss head."""

from __future__ import annotations

import numpy as np
import pytest

from nncli.engine.backend import Backend
from nncli.engine.layers import Dense, Dropout
from nncli.engine.losses import losses
from nncli.engine.network import LayerBuildError, Model, Sequential
from nncli.engine.optimizers import optimizers


def _net(backend: Backend) -> Sequential:
    net = Sequential([Dense(4, activation="relu"), Dropout(0.5), Dense(1)])
    net.build((3,), backend, np.random.default_rng(0))
    return net


def test_weight_names_follow_keras_and_count_weightless_layers(backend):
    net = _net(backend)
    assert list(net.get_weights()) == [
        "layers.0.kernel",
        "layers.0.bias",
        "layers.2.kernel",
        "layers.2.bias",
    ]
    assert net.shapes == [(4,), (4,), (1,)] and net.count_params() == [16, 0, 5]


def test_get_weights_is_a_snapshot(backend):
    net = _net(backend)
    snap = net.get_weights()
    before = snap["layers.0.kernel"].copy()
    net.params()["layers.0.kernel"][...] += 1
    np.testing.assert_array_equal(snap["layers.0.kernel"], before)


def test_set_weights_refuses_mismatches(backend):
    net = _net(backend)
    weights = net.get_weights()
    with pytest.raises(ValueError, match="missing layers.2.bias"):
        net.set_weights({k: v for k, v in weights.items() if k != "layers.2.bias"})
    weights["layers.0.kernel"] = np.zeros((3, 5), np.float32)
    with pytest.raises(
        ValueError, match=r"has shape \(3, 5\), the model needs \(3, 4\)"
    ):
        net.set_weights(weights)


def test_build_error_names_the_layer(backend):
    class Picky(Dense):
        def build(self, in_shape, backend, rng):
            raise ValueError("needs 2 input features")

    net = Sequential([Dense(2), Picky(1)])
    with pytest.raises(LayerBuildError, match="needs 2 input features") as info:
        net.build((3,), backend, np.random.default_rng(0))
    assert info.value.index == 1
    assert "(input shape [2])" in str(info.value)


@pytest.mark.parametrize(
    ("activation", "loss"),
    [
        ("sigmoid", "binary_crossentropy"),
        ("softmax", "categorical_crossentropy"),
    ],
)
def test_fused_head_matches_the_unfused_loss_where_both_are_finite(
    backend, activation, loss
):
    """Loss from logits (fused) equals the loss on probabilities away from saturation."""
    rng = np.random.default_rng(1)
    units = 1 if activation == "sigmoid" else 3
    x = backend.asarray(rng.normal(size=(5, 3)))
    t = (
        np.eye(units)[rng.integers(units, size=5)]
        if units > 1
        else rng.integers(2, size=(5, 1))
    )
    t = backend.asarray(t)
    net = Sequential([Dense(units, activation=activation)])
    net.build((3,), backend, np.random.default_rng(0))
    fused = Model(net, losses.create(loss), optimizers.create("sgd"))
    assert fused.fused
    per_sample, y = fused.evaluate_step(x, t)
    plain = losses.create(loss).sample_losses(y, t)
    np.testing.assert_allclose(
        backend.to_numpy(per_sample), backend.to_numpy(plain), rtol=1e-5
    )
