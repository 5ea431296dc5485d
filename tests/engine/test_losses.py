"""Losses: gradients, saturation (CASE-001), reduction, target checks, Keras numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import LOSS_CASES, case_id, float64
from hypothesis import given, settings
from hypothesis import strategies as st

from nncli.engine.activations import activations
from nncli.engine.backend import Backend
from nncli.engine.gradcheck import check_loss
from nncli.engine.losses import EPSILON, losses
from nncli.errors import DataError


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize(
    ("cfg", "make"), LOSS_CASES, ids=[case_id(c) for c, _ in LOSS_CASES]
)
def test_gradient_matches_finite_differences(cfg, make, weighted, backend):
    be = float64(backend)
    rng = np.random.default_rng(1)
    pred, target = make(rng, (5, 4))
    weights = be.asarray(rng.uniform(0, 2, 5)) if weighted else None
    target = be.asarray(target, dtype=target.dtype)
    check_loss(losses.create(cfg), be.asarray(pred), target, weights)


# --- CASE-001: saturated sigmoid + binary cross-entropy ---------------------------


def test_case_001_confident_correct_from_logits_is_tiny_not_nan():
    loss = losses.create({"type": "binary_crossentropy", "from_logits": True})
    z = np.array([[40.0], [-40.0], [100.0], [-100.0]])  # (batch, 1)
    t = np.array([[1.0], [0.0], [1.0], [0.0]])
    value, _ = loss.forward(z, t)
    assert float(value) == pytest.approx(2.124177e-18, rel=1e-6)
    value32, cache = loss.forward(z.astype(np.float32), t.astype(np.float32))
    assert value32.dtype == np.float32 and 0.0 <= float(value32) <= 2e-7
    assert np.all(np.isfinite(loss.backward(cache)))


def test_case_001_confident_wrong_from_logits_is_40_with_the_stable_gradient():
    loss = losses.create({"type": "binary_crossentropy", "from_logits": True})
    z = np.array([[40.0], [-40.0]])
    t = np.array([[0.0], [1.0]])
    for dtype in (np.float64, np.float32):
        value, cache = loss.forward(z.astype(dtype), t.astype(dtype))
        assert float(value) == pytest.approx(40.0, rel=1e-7)
        grad = loss.backward(cache)
        np.testing.assert_allclose(grad, (_sigmoid(z) - t) / 2, rtol=1e-6)
        # one SGD step (lr 0.1) on kernel 1, x = z: kernel -> 1 - 0.1 * 40 = -3
        assert 1.0 - 0.1 * float(np.sum(grad * z)) == pytest.approx(-3.0, rel=1e-6)


def test_case_001_clipped_probabilities_give_keras_value_and_zero_gradient():
    # the documented alternative: sigmoid outputs exactly 1.0 / 0.0 in float32
    loss = losses.create("binary_crossentropy")
    p = np.array([[1.0], [0.0]], dtype=np.float32)
    t = np.array([[0.0], [1.0]], dtype=np.float32)
    value, cache = loss.forward(p, t)
    assert float(value) == pytest.approx(16.03024, rel=1e-6)
    assert np.all(loss.backward(cache) == 0.0)


LOGITS = [40.0, -40.0, 100.0, -100.0]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "name",
    [
        "binary_crossentropy",
        "categorical_crossentropy",
        "sparse_categorical_crossentropy",
    ],
)
def test_saturated_inputs_give_finite_loss_and_gradient(name, dtype, backend):
    be = Backend.from_name(backend.name, dtype=dtype)
    z = np.array([LOGITS, LOGITS[::-1], [-100.0, 100.0, -40.0, 40.0]])  # (3, 4)
    probs = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0], [0.0, 1.0, 0, 0]])
    onehot = np.eye(4)[[0, 0, 2]]  # right, wrong, wrong
    binary = np.array([[1, 0, 1, 0], [0, 0, 1, 1], [1, 1, 1, 1.0]])
    ids = np.array([0, 0, 2])
    target = {
        "binary_crossentropy": binary,
        "categorical_crossentropy": onehot,
        "sparse_categorical_crossentropy": ids,
    }[name]
    for from_logits, pred in ((True, z), (False, probs)):
        loss = losses.create({"type": name, "from_logits": from_logits})
        value, cache = loss.forward(be.asarray(pred), be.asarray(target))
        grad = loss.backward(cache)
        assert value.shape == () and value.dtype == be.dtype
        assert math.isfinite(float(value)) and float(value) >= 0
        assert bool(be.xp.all(be.xp.isfinite(grad)))


# --- values Keras gives (CASE-007, CASE-008) --------------------------------------


def test_case_007_bce_from_logits_equals_bce_on_sigmoid():
    z = np.array([[0.3], [-0.2], [0.7], [2.0], [-1.5], [0.4]])
    t = np.array([[1.0], [0], [1], [1], [0], [1]])
    for loss, pred in (
        (losses.create({"type": "binary_crossentropy", "from_logits": True}), z),
        (losses.create("binary_crossentropy"), _sigmoid(z)),
    ):
        value, _ = loss.forward(pred, t)
        assert float(value) == pytest.approx(0.399506117, rel=1e-8)


def test_case_008_categorical_and_binary_crossentropy_on_softmax():
    z = np.array([[2, 1, 0], [2, 1, 0], [0, 2, 1], [1, 0, 2.0]])
    y = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 1, 0.0]])
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    cce = losses.create("categorical_crossentropy")
    cce_logits = cce.with_logits()
    assert float(cce.forward(p, y)[0]) == pytest.approx(1.407605964, rel=1e-8)
    assert float(cce_logits.forward(z, y)[0]) == pytest.approx(1.407605964, rel=1e-8)
    ids = y.argmax(1)
    scce = losses.create(
        {"type": "sparse_categorical_crossentropy", "from_logits": True}
    )
    assert float(scce.forward(z, ids)[0]) == pytest.approx(1.407605964, rel=1e-8)
    bce = losses.create("binary_crossentropy")
    assert float(bce.forward(p, y)[0]) == pytest.approx(0.813153786, rel=1e-8)


def test_single_softmax_unit_gives_zero_loss_and_zero_gradient():
    # CASE-004 b: why validation must refuse a 1-unit softmax with cce
    loss = losses.create({"type": "categorical_crossentropy", "from_logits": True})
    value, cache = loss.forward(np.array([[3.0], [-2.0]]), np.ones((2, 1)))
    assert float(value) == 0.0 and np.all(loss.backward(cache) == 0.0)


# --- reduction, targets, API -----------------------------------------------------


def test_reduction_is_sum_over_batch_size_with_sample_weights():
    loss = losses.create("mse")
    pred, target = np.array([[1.0, 3.0], [2.0, 2.0]]), np.zeros((2, 2))
    assert float(loss.forward(pred, target)[0]) == pytest.approx((5.0 + 4.0) / 2)
    value, cache = loss.forward(pred, target, weights=np.array([1.0, 0.0]))
    assert float(value) == pytest.approx(5.0 / 2)  # divided by batch, not sum(w)
    np.testing.assert_allclose(loss.backward(cache), [[0.5, 1.5], [0.0, 0.0]])


def test_mae_subgradient_is_zero_at_a_tie():
    loss = losses.create("mae")
    _, cache = loss.forward(np.array([[1.0, 2.0]]), np.array([[1.0, 0.0]]))
    np.testing.assert_array_equal(loss.backward(cache), [[0.0, 0.5]])


def test_mismatched_target_shape_is_refused_not_broadcast():
    # CASE-004 a: (6, 1) integer labels against a (6, 3) softmax
    pred = np.full((6, 3), 1 / 3)
    with pytest.raises(DataError, match=r"target shape \(6, 1\).*\(6, 3\)"):
        losses.create("categorical_crossentropy").forward(pred, np.zeros((6, 1)))
    with pytest.raises(DataError, match="one integer class id per row"):
        losses.create("sparse_categorical_crossentropy").forward(pred, np.eye(3)[:6])


@pytest.mark.parametrize("bad", [[0, 3], [-1, 0], [0.0, 1.5]])
def test_sparse_ids_out_of_range_or_fractional_are_refused(bad):
    loss = losses.create("sparse_categorical_crossentropy")
    with pytest.raises(DataError, match=r"integers in \[0, 3\)"):
        loss.forward(np.full((2, 3), 1 / 3), np.array(bad))


def test_sparse_accepts_integral_floats_and_a_column_of_ids():
    loss = losses.create(
        {"type": "sparse_categorical_crossentropy", "from_logits": True}
    )
    z = np.array([[1.0, 2.0, 0.5], [0.1, 0.2, 3.0]])
    want = float(loss.forward(z, np.array([1, 2]))[0])
    assert float(loss.forward(z, np.array([1.0, 2.0]))[0]) == want
    assert float(loss.forward(z, np.array([[1], [2]]))[0]) == want


def test_fusion_metadata_and_with_logits():
    assert losses.get("binary_crossentropy").fuses_with == "sigmoid"
    assert losses.get("categorical_crossentropy").fuses_with == "softmax"
    assert losses.get("sparse_categorical_crossentropy").fuses_with == "softmax"
    kinds = {name: losses.get(name).target_kind for name in losses.names()}
    assert kinds == {
        "binary_crossentropy": "binary",
        "categorical_crossentropy": "onehot",
        "sparse_categorical_crossentropy": "sparse",
        "mean_absolute_error": "real",
        "mean_squared_error": "real",
    }
    for name in (
        "binary_crossentropy",
        "categorical_crossentropy",
        "sparse_categorical_crossentropy",
    ):
        fused = losses.create(name).with_logits()
        assert type(fused) is losses.get(name) and fused.from_logits
    with pytest.raises(NotImplementedError):
        losses.create("mse").with_logits()
    assert losses.canonical("mse") == "mean_squared_error"
    assert losses.canonical("mae") == "mean_absolute_error"


@pytest.mark.parametrize("name", losses.names())
def test_config_defaults_build_the_loss(name):
    cfg = losses.get(name).Config().model_dump()
    assert cfg["type"] == name
    assert cfg.get("from_logits", False) is False
    assert losses.create(cfg).from_logits is False


# --- properties ------------------------------------------------------------------


def _inputs(name: str, from_logits: bool, rng: np.random.Generator):
    shape = (4, 3)
    for cfg, make in LOSS_CASES:
        if cfg["type"] == name and cfg.get("from_logits", False) == from_logits:
            return make(rng, shape)
    raise AssertionError(name)


LOSS_FORMS = [(c["type"], c.get("from_logits", False)) for c, _ in LOSS_CASES]


@settings(max_examples=20, deadline=None)
@given(
    form=st.sampled_from(LOSS_FORMS),
    seed=st.integers(0, 2**32 - 1),
    scale=st.floats(0.01, 100.0),
)
def test_loss_is_never_negative(form, seed, scale):
    name, from_logits = form
    rng = np.random.default_rng(seed)
    pred, target = _inputs(name, from_logits, rng)
    if from_logits or name in ("mean_squared_error", "mean_absolute_error"):
        pred = pred * scale
    loss = losses.create(
        {"type": name, "from_logits": from_logits} if from_logits else name
    )
    for dtype in (np.float64, np.float32):
        value, _ = loss.forward(pred.astype(dtype), target)
        assert float(value) >= 0.0


@pytest.mark.parametrize(("name", "from_logits"), LOSS_FORMS)
def test_loss_at_the_target_is_zero_or_epsilon_level(name, from_logits):
    onehot = np.eye(3)[[0, 2, 1]]  # (3, 3)
    target = onehot.argmax(1) if name.startswith("sparse") else onehot
    pred = 200.0 * onehot - 100.0 if from_logits else onehot  # logits +-100
    kwargs = {"from_logits": True} if from_logits else {}
    value, _ = losses.create({"type": name, **kwargs}).forward(pred, target)
    if name in ("mean_squared_error", "mean_absolute_error"):
        assert float(value) == 0.0
    elif from_logits:
        assert 0.0 <= float(value) < 1e-40
    else:
        assert 0.0 <= float(value) <= 2 * EPSILON  # -log(1 - 1e-7), the clip


@pytest.mark.parametrize(
    ("name", "activation"),
    [
        ("binary_crossentropy", "sigmoid"),
        ("categorical_crossentropy", "softmax"),
        ("sparse_categorical_crossentropy", "softmax"),
    ],
)
def test_logits_form_equals_probability_form_through_the_activation(name, activation):
    # what fusing relies on: loss(act(z)) and its chain-rule gradient equal the
    # logits form wherever the epsilon clip is inactive
    rng = np.random.default_rng(2)
    z = rng.normal(0.0, 2.0, (5, 4))
    target = (
        (rng.random((5, 4)) > 0.5).astype(float)
        if name.startswith("binary")
        else np.eye(4)[rng.integers(0, 4, 5)]
    )
    if name.startswith("sparse"):
        target = target.argmax(1)
    act = activations.create(activation)
    p = act.forward(z)
    prob_loss = losses.create(name)
    assert prob_loss.fuses_with == activation
    value_p, cache_p = prob_loss.forward(p, target)
    value_z, cache_z = prob_loss.with_logits().forward(z, target)
    assert float(value_p) == pytest.approx(float(value_z), rel=1e-12)
    chained = act.backward(prob_loss.backward(cache_p), z, p)
    np.testing.assert_allclose(
        chained, prob_loss.with_logits().backward(cache_z), rtol=1e-10, atol=1e-14
    )
