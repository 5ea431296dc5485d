"""Regularizers: Keras penalties (no 1/2 factor), gradients, defaults, validation."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from helpers import (
    ACTIVITY_REGULARIZER_CASES,
    REGULARIZER_CASES,
    case_id,
    float64,
)
from pydantic import ValidationError

from nncli.engine.backend import Backend
from nncli.engine.layers import Dense
from nncli.engine.losses import losses
from nncli.engine.network import Model, Sequential
from nncli.engine.regularizers import regularizers

W = np.array([[0.5, -2.0], [0.0, 3.0]])


def test_penalties_follow_keras():
    assert float(regularizers.create("l1").penalty(W)) == pytest.approx(0.01 * 5.5)
    assert float(regularizers.create("l2").penalty(W)) == pytest.approx(0.01 * 13.25)
    both = regularizers.create({"type": "l1_l2", "l1": 0.1, "l2": 0.2})
    assert float(both.penalty(W)) == pytest.approx(0.1 * 5.5 + 0.2 * 13.25)
    assert float(regularizers.create("l1_l2").penalty(W)) == 0.0  # defaults 0, 0


def test_gradients_follow_keras():
    np.testing.assert_allclose(
        regularizers.create("l1").grad(W), 0.01 * np.array([[1, -1], [0, 1]])
    )  # sign(0) = 0
    np.testing.assert_allclose(regularizers.create("l2").grad(W), 0.02 * W)
    both = regularizers.create({"type": "l1_l2", "l1": 0.1, "l2": 0.2})
    np.testing.assert_allclose(both.grad(W), 0.1 * np.sign(W) + 0.4 * W)


@pytest.mark.parametrize("cfg", REGULARIZER_CASES, ids=case_id)
def test_gradient_matches_finite_differences(cfg, backend):
    be = float64(backend)
    reg = regularizers.create(cfg)
    w = be.asarray(np.random.default_rng(0).uniform(0.1, 2.0, (3, 4)) * [1, -1, 1, -1])
    eps = 1e-6
    numeric = np.zeros(w.shape)
    for i in np.ndindex(*w.shape):
        old = float(w[i])
        w[i] = old + eps
        plus = float(reg.penalty(w))
        w[i] = old - eps
        minus = float(reg.penalty(w))
        w[i] = old
        numeric[i] = (plus - minus) / (2 * eps)
    np.testing.assert_allclose(be.to_numpy(reg.grad(w)), numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", regularizers.names())
def test_config_defaults_match_constructor_and_reject_negatives(name):
    cls = regularizers.get(name)
    fields = {k: v for k, v in cls.Config().model_dump().items() if k != "type"}
    params = inspect.signature(cls.__init__).parameters
    assert {k: p.default for k, p in params.items() if k != "self"} == fields
    for field in fields:
        with pytest.raises(ValidationError):
            cls.Config(**{field: -0.1})


@pytest.mark.parametrize(
    "case",
    list(ACTIVITY_REGULARIZER_CASES.values()),
    ids=list(ACTIVITY_REGULARIZER_CASES),
)
def test_model_gradients_with_activity_regularizers_match_finite_differences(
    case, backend
):
    """d(total training loss)/d(every weight) against central differences."""
    layer_cfgs, in_shape, loss, make_target = case
    be = float64(backend)
    net = Sequential.from_config(layer_cfgs)
    net.build(in_shape, be, np.random.default_rng(0))
    model = Model(net, losses.create(loss))
    rng = np.random.default_rng(1)
    for p in net.params().values():  # non-zero biases, weights off the l1 kink
        p[...] = be.asarray(rng.normal(0.0, 0.8, p.shape))
    x = be.asarray(rng.normal(size=(5, *in_shape)))
    target = be.asarray(make_target(rng, 5))
    value, _ = model.compute_gradients(x, target)
    analytic = {k: be.to_numpy(g).copy() for k, g in net.grads().items()}
    activity, _ = net.activity_regularization(net.forward(x, training=True)[1])
    assert float(activity) > 0  # the activity term is part of what is checked
    eps = 1e-6
    for name, p in net.params().items():
        numeric = np.zeros(p.shape)
        for i in np.ndindex(*p.shape):
            old = float(p[i])
            p[i] = old + eps
            plus = float(model.compute_gradients(x, target)[0])
            p[i] = old - eps
            minus = float(model.compute_gradients(x, target)[0])
            p[i] = old
            numeric[i] = (plus - minus) / (2 * eps)
        np.testing.assert_allclose(
            analytic[name], numeric, rtol=1e-5, atol=1e-8, err_msg=name
        )
    # without the activity penalties the loss and gradients differ
    for layer in net.layers:
        layer.activity_regularizer = None
    plain, _ = model.compute_gradients(x, target)
    assert float(value) - float(plain) == pytest.approx(float(activity), rel=1e-12)


def test_activity_penalty_is_divided_by_the_batch_size_like_keras_3():
    be = Backend.from_name("numpy", dtype="float64")
    net = Sequential([Dense(2, activity_regularizer={"type": "l1", "l1": 0.5})])
    net.build((3,), be, np.random.default_rng(0))
    for batch in (1, 4, 10):
        x = np.random.default_rng(batch).normal(size=(batch, 3))
        y, caches = net.forward(x)
        penalty, grads = net.activity_regularization(caches, with_grads=True)
        assert float(penalty) == pytest.approx(0.5 * np.abs(y).sum() / batch)
        np.testing.assert_allclose(grads[0], 0.5 * np.sign(y) / batch)
        per_sample = net.sample_activity(caches)
        np.testing.assert_allclose(per_sample, 0.5 * np.abs(y).sum(axis=1))
