"""Regularizers: Keras penalties (no 1/2 factor), gradients, defaults, validation."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from helpers import float64
from pydantic import ValidationError

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


@pytest.mark.parametrize(
    "cfg",
    [{"type": "l1"}, {"type": "l2"}, {"type": "l1_l2", "l1": 0.3, "l2": 0.7}],
    ids=lambda c: c["type"],
)
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
