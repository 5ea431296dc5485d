"""A numerically hostile set through whole models: saturated sigmoids, logits
of +-1e4, labels that are exactly 0/1 and zero-variance inputs give finite,
correct losses and gradients in float32 and float64.

Expected values are written from the closed forms, in float64 numpy:
binary cross-entropy from a logit z is softplus(z) - t z with gradient
(sigmoid(z) - t) / n; softmax cross-entropy is logsumexp(z) - z_t with
gradient (softmax(z) - onehot) / n. The losses Keras reports on such inputs
are the same where Keras computes from logits; from probabilities Keras
clips at 1e-7 (covered in the loss golden cases).
"""

from __future__ import annotations

import numpy as np
import pytest

from nncli.data.preprocess import Preprocessing
from nncli.engine.backend import Backend
from nncli.engine.losses import losses
from nncli.engine.network import Model, Sequential
from nncli.engine.optimizers import optimizers

LOGITS = np.array([-1e4, -80.0, -30.0, 0.0, 30.0, 80.0, 1e4])


def _identity_model(be: Backend, units: int, activation: str, loss: dict) -> Model:
    """One Dense whose kernel is the identity: the logits are the inputs."""
    net = Sequential.from_config(
        [{"type": "dense", "units": units, "activation": activation}]
    )
    net.build((units,), be, np.random.default_rng(0))
    layer = net.layers[0]
    layer.params["kernel"][...] = be.xp.eye(units, dtype=be.dtype)
    layer.params["bias"][...] = 0
    return Model(net, losses.create(loss), optimizers.create({"type": "sgd"}))


def _softplus(z):
    return np.logaddexp(0.0, z)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("from_logits", [False, True])
def test_saturated_binary_head(dtype, from_logits, backend):
    be = Backend.from_name(backend.name, dtype=dtype)
    activation = "linear" if from_logits else "sigmoid"
    loss = {"type": "binary_crossentropy", "from_logits": from_logits}
    model = _identity_model(be, 1, activation, loss)
    z = np.repeat(LOGITS, 2)[:, None]  # every logit with both labels
    t = np.tile([0.0, 1.0], len(LOGITS))[:, None]
    value, _ = model.train_step(be.asarray(z), be.asarray(t))
    grads = {k: be.to_numpy(g) for k, g in model.network.grads().items()}

    want = float(np.mean(_softplus(z) - t * z))
    assert np.isfinite(float(value))
    np.testing.assert_allclose(float(value), want, rtol=1e-6)
    sigmoid = np.exp(-_softplus(-z))  # 1 / (1 + e^-z) without overflow
    dz = (sigmoid - t) / len(z)
    np.testing.assert_allclose(grads["layers.0.bias"], dz.sum(0), atol=1e-7)
    np.testing.assert_allclose(grads["layers.0.kernel"], z.T @ dz, rtol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("sparse", [False, True])
def test_softmax_with_logits_of_1e4(dtype, sparse, backend):
    be = Backend.from_name(backend.name, dtype=dtype)
    name = "sparse_categorical_crossentropy" if sparse else "categorical_crossentropy"
    model = _identity_model(be, 3, "softmax", {"type": name})
    z = np.array([[1e4, -1e4, 0.0], [1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [0, 0, 0]])
    labels = np.array([0, 1, 2, 1])
    onehot = np.eye(3)[labels]
    target = labels if sparse else onehot
    value, pred = model.train_step(
        be.asarray(z), be.asarray(target, dtype=np.int64 if sparse else None)
    )
    shifted = z - z.max(axis=1, keepdims=True)
    logsumexp = np.log(np.exp(shifted).sum(axis=1)) + z.max(axis=1)
    want = np.mean(logsumexp - (z * onehot).sum(axis=1))  # 0, 2e4, log 2, log 3
    np.testing.assert_allclose(float(value), want, rtol=1e-6)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(be.to_numpy(pred), probs, atol=1e-7)
    dz = (probs - onehot) / len(z)
    grads = {k: be.to_numpy(g) for k, g in model.network.grads().items()}
    np.testing.assert_allclose(grads["layers.0.bias"], dz.sum(0), atol=1e-7)
    assert all(np.isfinite(g).all() for g in grads.values())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_zero_variance_inputs_stay_finite(dtype, backend):
    """Constant features: standardisation leaves them at 0, training stays finite."""
    be = Backend.from_name(backend.name, dtype=dtype)
    rng = np.random.default_rng(1)
    n = 999  # np.full(999, 7.3).std() is 8.9e-16, not 0
    x = np.column_stack([np.full(n, 7.3), rng.normal(size=n), np.zeros(n)])
    prep = Preprocessing(input_shape=(3,))
    prep.fit_standardize(x)
    xs = prep.apply(x)
    np.testing.assert_array_equal(xs[:, [0, 2]], 0.0)
    np.testing.assert_allclose(xs[:, 1].std(), 1.0, rtol=1e-12)
    # a validation value the training data never varied on stays moderate
    other = prep.apply(np.array([[7.4, 0.0, -1.0]]))
    np.testing.assert_allclose(other[0, [0, 2]], [7.4 - 7.3, -1.0], rtol=1e-12)
    xs, t = xs[:32], (rng.random((32, 1)) > 0.5).astype(float)  # labels 0 and 1

    net = Sequential.from_config(
        [
            {"type": "dense", "units": 4, "activation": "relu"},
            {"type": "dense", "units": 1, "activation": "sigmoid"},
        ]
    )
    net.build((3,), be, np.random.default_rng(0))
    model = Model(
        net,
        losses.create({"type": "binary_crossentropy"}),
        optimizers.create({"type": "adam"}),
    )
    for _ in range(20):
        value, _ = model.train_step(be.asarray(xs), be.asarray(t))
        assert np.isfinite(float(value))
    assert all(np.isfinite(be.to_numpy(p)).all() for p in net.params().values())
