"""Losses: gradients, saturation (CASE-001), reduction, target checks, Keras numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import LOSS_CASES, case_id, float64
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from nncli.engine.activations import activations
from nncli.engine.backend import Backend
from nncli.engine.gradcheck import check_loss
from nncli.engine.losses import EPSILON, losses
from nncli.engine.metrics import TARGETS, build_metrics, layout_for
from nncli.engine.network import Model, Sequential
from nncli.engine.optimizers import optimizers
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


@pytest.mark.parametrize(
    ("cfg", "make"), LOSS_CASES, ids=[case_id(c) for c, _ in LOSS_CASES]
)
def test_every_loss_reduces_weighted_samples_over_the_batch(cfg, make, backend):
    be = float64(backend)
    rng = np.random.default_rng(7)
    pred, target = make(rng, (5, 3))
    pred, target = be.asarray(pred), be.asarray(target, dtype=target.dtype)
    w = np.array([0.5, 0.0, 2.0, 1.0, 3.0])
    loss = losses.create(cfg)
    per_sample = be.to_numpy(loss.sample_losses(pred, target))  # (5,)
    value, cache = loss.forward(pred, target)
    np.testing.assert_allclose(float(value), per_sample.mean(), rtol=1e-14)
    grad = be.to_numpy(loss.backward(cache))
    value_w, cache_w = loss.forward(pred, target, be.asarray(w))
    # Keras's sum_over_batch_size: divided by 5 rows, not by sum(w)
    np.testing.assert_allclose(float(value_w), (w * per_sample).sum() / 5, rtol=1e-14)
    grad_w = be.to_numpy(loss.backward(cache_w))
    np.testing.assert_allclose(grad_w, w[:, None] * grad, rtol=1e-14, atol=1e-300)
    assert (grad_w[1] == 0).all()  # a zero weight removes the sample's gradient


@pytest.mark.parametrize(
    ("cfg", "make"), LOSS_CASES, ids=[case_id(c) for c, _ in LOSS_CASES]
)
def test_float32_stays_float32(cfg, make, backend):
    be = Backend.from_name(backend.name, dtype="float32")
    pred, target = make(np.random.default_rng(8), (4, 3))
    target = be.asarray(
        target, dtype=target.dtype if target.dtype.kind == "i" else None
    )
    loss = losses.create(cfg)
    value, cache = loss.forward(be.asarray(pred), target, be.asarray(np.ones(4)))
    assert value.dtype == np.float32 and value.shape == ()
    assert loss.backward(cache).dtype == np.float32
    assert loss.sample_losses(be.asarray(pred), target).dtype == np.float32


def test_label_smoothing_is_the_loss_of_smoothed_labels():
    rng = np.random.default_rng(3)
    p = rng.uniform(0.05, 0.95, (4, 3))
    binary = (rng.random((4, 3)) > 0.5).astype(float)
    onehot = np.eye(3)[[0, 1, 2, 1]]
    for name, t, smoothed in (
        ("binary_crossentropy", binary, binary * 0.8 + 0.1),
        ("binary_focal_crossentropy", binary, binary * 0.8 + 0.1),
        ("categorical_crossentropy", onehot, onehot * 0.8 + 0.2 / 3),
    ):
        for from_logits in (False, True):
            plain = losses.create({"type": name, "from_logits": from_logits})
            smooth = losses.create(
                {"type": name, "from_logits": from_logits, "label_smoothing": 0.2}
            )
            v1, c1 = smooth.forward(p, t)
            v2, c2 = plain.forward(p, smoothed)
            assert float(v1) == pytest.approx(float(v2), rel=1e-14), name
            np.testing.assert_allclose(smooth.backward(c1), plain.backward(c2))


def test_focal_with_gamma_0_is_bce_and_class_balancing_weighs_each_label():
    rng = np.random.default_rng(4)
    t = (rng.random((6, 2)) > 0.5).astype(float)
    probs, logits = rng.uniform(0.05, 0.95, (6, 2)), rng.normal(0, 2, (6, 2))
    for from_logits, pred in ((False, probs), (True, logits)):
        kw = {"from_logits": from_logits}
        bce = losses.create({"type": "binary_crossentropy", **kw})
        focal = {"type": "binary_focal_crossentropy", "gamma": 0.0, **kw}
        flat = losses.create(focal)
        np.testing.assert_allclose(
            flat.sample_losses(pred, t), bce.sample_losses(pred, t), rtol=1e-14
        )
        balanced = losses.create({**focal, "apply_class_balancing": True})
        # alpha 0.25 on label 1, 0.75 on label 0, per element
        ones = losses.create({**focal, "apply_class_balancing": True, "alpha": 1.0})
        zeros = losses.create({**focal, "apply_class_balancing": True, "alpha": 0.0})
        np.testing.assert_allclose(
            balanced.sample_losses(pred, t),
            0.25 * ones.sample_losses(pred, t) + 0.75 * zeros.sample_losses(pred, t),
            rtol=1e-14,
        )
        np.testing.assert_allclose(
            ones.sample_losses(pred, t) + zeros.sample_losses(pred, t),
            bce.sample_losses(pred, t),
            rtol=1e-14,
        )


def test_focal_down_weights_easy_examples():
    loss = losses.create("binary_focal_crossentropy")  # gamma 2
    bce = losses.create("binary_crossentropy")
    p = np.array([[0.9], [0.6], [0.1]])
    t = np.ones((3, 1))
    ratio = loss.sample_losses(p, t) / bce.sample_losses(p, t)
    np.testing.assert_allclose(ratio, (1 - p[:, 0]) ** 2)


def test_focal_from_logits_is_stable_where_keras_on_jax_clips():
    # a confident wrong logit keeps its full cost and gradient (as bce does)
    loss = losses.create({"type": "binary_focal_crossentropy", "from_logits": True})
    z, t = np.array([[-1e4, 1e4, 50.0]]), np.array([[1.0, 0.0, 1.0]])
    for dtype in (np.float64, np.float32):
        value, cache = loss.forward(z.astype(dtype), t.astype(dtype))
        assert float(value) == pytest.approx(2e4 / 3, rel=1e-6)
        grad = loss.backward(cache)
        np.testing.assert_allclose(grad, [[-1 / 3, 1 / 3, 0.0]], atol=1e-7)


def test_a_sigmoid_model_fuses_into_focal_with_its_options():
    net = Sequential.from_config(
        [{"type": "dense", "units": 1, "activation": "sigmoid"}]
    )
    net.build(
        (2,), Backend.from_name("numpy", dtype="float64"), np.random.default_rng(0)
    )
    cfg = {"type": "binary_focal_crossentropy", "gamma": 3.0, "label_smoothing": 0.1}
    model = Model(net, losses.create(cfg), optimizers.create("sgd"))
    assert model.fused and model._loss.from_logits and model._loss.gamma == 3.0
    net.set_weights({"layers.0.kernel": np.eye(2)[:, :1], "layers.0.bias": np.zeros(1)})
    x, t = np.array([[2e4, 0.0], [-2e4, 0.0]]), np.array([[0.0], [1.0]])
    value, _ = model.train_step(x, t)  # logits +-2e4, both wrong: large, finite
    assert np.isfinite(float(value)) and float(value) > 100
    assert all(np.isfinite(g).all() for g in net.grads().values())


def test_focal_is_flat_at_a_certain_right_prediction_for_any_gamma():
    p, t = np.array([[1.0, 0.0]]), np.array([[1.0, 0.0]])
    for gamma in (0.0, 0.5, 1.0, 2.0):
        loss = losses.create({"type": "binary_focal_crossentropy", "gamma": gamma})
        value, cache = loss.forward(p, t)
        grad = loss.backward(cache)
        assert np.isfinite(grad).all(), gamma
        # the clipped bce is 1e-7-level; only gamma = 0 keeps its full weight
        assert 0.0 <= float(value) <= 2 * EPSILON
        if gamma != 1.0:  # slope of (1 - p_t)^gamma at 0 is 0 (gamma 1: 1)
            assert (grad == 0).all(), gamma


@pytest.mark.parametrize("name", ["hinge", "squared_hinge"])
def test_hinge_labels_0_1_are_converted_like_keras(name):
    loss = losses.create(name)
    pred = np.array([[0.3, -2.0, 1.5], [-0.2, 0.8, 1.0]])
    t01 = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    v01, c01 = loss.forward(pred, t01)
    vpm, cpm = loss.forward(pred, 2 * t01 - 1)
    assert float(v01) == float(vpm)
    np.testing.assert_array_equal(loss.backward(c01), loss.backward(cpm))
    # all-ones labels mean +1 either way; a mix of -1, 0 and 1 is not converted
    ones = np.ones_like(pred)
    assert float(loss.forward(pred, ones)[0]) == float(loss.forward(pred, ones)[0])
    mixed = np.array([[1.0, 0.0, -1.0], [0.0, 1.0, 1.0]])
    margin = np.maximum(1 - mixed * pred, 0)
    want = (margin if name == "hinge" else margin**2).mean()
    assert float(loss.forward(pred, mixed)[0]) == pytest.approx(want, rel=1e-14)


def test_kinks_take_the_mean_of_the_one_sided_slopes():
    # on a clip bound (as JAX differentiates Keras's clip): half the inner slope
    bce = losses.create("binary_crossentropy")
    _, cache = bce.forward(np.array([[EPSILON, 0.5]]), np.ones((1, 2)))
    grad = bce.backward(cache)
    assert grad[0, 0] == pytest.approx(-0.5 / EPSILON / 2, rel=1e-6)
    # hinge at margin 0: half of -t
    _, cache = losses.create("hinge").forward(np.array([[1.0, -1.0]]), np.eye(2)[:1])
    np.testing.assert_allclose(losses.create("hinge").backward(cache), [[-0.25, 0.25]])
    # categorical hinge: the top wrong score shared between tied classes
    ch = losses.create("categorical_hinge")
    _, cache = ch.forward(np.array([[0.5, 0.2, 0.5]]), np.array([[0.0, 1.0, 0.0]]))
    np.testing.assert_allclose(ch.backward(cache), [[0.5, -1.0, 0.5]])


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


FUSING = {
    "binary_crossentropy": "sigmoid",
    "binary_focal_crossentropy": "sigmoid",
    "categorical_crossentropy": "softmax",
    "sparse_categorical_crossentropy": "softmax",
}


def test_fusion_metadata_and_with_logits():
    fusing = {n: losses.get(n).fuses_with for n in losses.names()}
    assert {n: f for n, f in fusing.items() if f} == FUSING
    kinds = {name: losses.get(name).target_kind for name in losses.names()}
    assert kinds == {
        "binary_crossentropy": "binary",
        "binary_focal_crossentropy": "binary",
        "categorical_crossentropy": "onehot",
        "sparse_categorical_crossentropy": "sparse",
        "kl_divergence": "onehot",
        "categorical_hinge": "onehot",
        "hinge": "signed",
        "squared_hinge": "signed",
        "poisson": "nonnegative",
        "mean_squared_logarithmic_error": "nonnegative",
        "mean_absolute_percentage_error": "nonzero",
        "mean_absolute_error": "real",
        "mean_squared_error": "real",
        "huber": "real",
        "log_cosh": "real",
        "cosine_similarity": "real",
    }
    for name in FUSING:
        fused = losses.create(name).with_logits()
        assert type(fused) is losses.get(name) and fused.from_logits
    for name in sorted(set(losses.names()) - set(FUSING)):
        with pytest.raises(NotImplementedError):
            losses.create(name).with_logits()
    aliases = {"mse": "mean_squared_error", "mae": "mean_absolute_error"}
    aliases |= {"bce": "binary_crossentropy", "kld": "kl_divergence"}
    aliases |= {"mape": "mean_absolute_percentage_error"}
    aliases |= {"msle": "mean_squared_logarithmic_error"}
    assert {a: losses.canonical(a) for a in aliases} == aliases


@pytest.mark.parametrize("name", losses.names())
def test_every_target_kind_has_a_metric_layout(name):
    kind = losses.get(name).target_kind
    assert layout_for(kind, 3).kind in TARGETS
    mae = [] if kind == "sparse" else [{"type": "mean_absolute_error"}]
    cfgs = [{"type": "accuracy"}, *mae]
    for units in (3,) if kind in ("sparse", "onehot") else (1, 3):
        assert set(build_metrics(cfgs, kind, units)) == {c["type"] for c in cfgs}


@pytest.mark.parametrize(
    "cfg",
    [
        {"type": "binary_crossentropy", "label_smoothing": 0.2},
        {"type": "categorical_crossentropy", "label_smoothing": 0.3},
        {
            "type": "binary_focal_crossentropy",
            "apply_class_balancing": True,
            "alpha": 0.6,
            "gamma": 0.5,
            "label_smoothing": 0.1,
        },
    ],
    ids=case_id,
)
def test_with_logits_keeps_every_option(cfg):
    loss = losses.create(cfg)
    fused = loss.with_logits()
    for key, value in cfg.items():
        if key != "type":
            assert getattr(fused, key) == value == getattr(loss, key), key


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "binary_crossentropy", "label_smoothing": 1.5},
        {"type": "categorical_crossentropy", "label_smoothing": -0.1},
        {"type": "binary_focal_crossentropy", "alpha": 1.2},
        {"type": "binary_focal_crossentropy", "gamma": -1.0},
        {"type": "huber", "delta": 0.0},
        {"type": "sparse_categorical_crossentropy", "label_smoothing": 0.1},
        {"type": "hinge", "from_logits": True},
    ],
    ids=case_id,
)
def test_configs_refuse_out_of_range_options(bad):
    with pytest.raises(ValidationError):
        losses.get(bad["type"]).Config(**bad)


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


LOSS_FORMS = sorted({(c["type"], c.get("from_logits", False)) for c, _ in LOSS_CASES})
# cosine similarity lies in [-1, 1]; poisson's value at its minimum, pred = t,
# is t - t log t, below 0 for counts above e (test_poisson_is_least_at_the_target)
BELOW_ZERO = {"cosine_similarity": -1.0, "poisson": -math.inf}
REGRESSION = {
    "mean_squared_error",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "huber",
    "log_cosh",
    "cosine_similarity",
}


@settings(max_examples=40, deadline=None)
@given(
    form=st.sampled_from(LOSS_FORMS),
    seed=st.integers(0, 2**32 - 1),
    scale=st.floats(0.01, 100.0),
)
def test_loss_is_never_below_its_floor(form, seed, scale):
    name, from_logits = form
    rng = np.random.default_rng(seed)
    pred, target = _inputs(name, from_logits, rng)
    if from_logits or name in REGRESSION or "hinge" in name:
        pred = pred * scale
    if name == "kl_divergence":  # KL >= 0 holds between distributions
        pred = pred / pred.sum(axis=1, keepdims=True)
    loss = losses.create(
        {"type": name, "from_logits": from_logits} if from_logits else name
    )
    for dtype in (np.float64, np.float32):
        value, _ = loss.forward(pred.astype(dtype), target)
        assert float(value) >= BELOW_ZERO.get(name, 0.0) - 1e-6


def _at_target(name: str, from_logits: bool) -> tuple[np.ndarray, np.ndarray]:
    """(pred, target) where pred is exactly what the target asks for."""
    onehot = np.eye(3)[[0, 2, 1]]  # (3, 3)
    target = onehot.argmax(1) if name.startswith("sparse") else onehot
    if from_logits:
        return 200.0 * onehot - 100.0, target  # logits +-100
    if name.startswith("sparse"):
        return onehot, target
    if "hinge" in name and name != "categorical_hinge":
        return 2.0 * onehot - 1.0, onehot  # labels 0/1 mean -1/1
    return onehot, onehot


ZERO_AT_TARGET = [f for f in LOSS_FORMS if f[0] not in BELOW_ZERO]


@pytest.mark.parametrize(("name", "from_logits"), ZERO_AT_TARGET)
def test_loss_at_the_target_is_zero_or_epsilon_level(name, from_logits):
    pred, target = _at_target(name, from_logits)
    kwargs = {"from_logits": True} if from_logits else {}
    value, _ = losses.create({"type": name, **kwargs}).forward(pred, target)
    if from_logits:
        assert 0.0 <= float(value) < 1e-40
    elif name.endswith("crossentropy"):
        assert 0.0 <= float(value) <= 2 * EPSILON  # -log(1 - 1e-7), the clip
    else:
        assert float(value) == 0.0


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), scale=st.floats(0.01, 100.0))
def test_poisson_is_least_at_the_target(seed, scale):
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 20, (4, 3)).astype(float)
    loss = losses.create("poisson")
    best = loss.sample_losses(counts, counts)
    other = loss.sample_losses(rng.uniform(0.0, 2.0, (4, 3)) * scale, counts)
    assert (other >= best - 1e-9).all()


def test_cosine_similarity_is_minus_one_when_aligned_and_zero_for_a_zero_vector():
    loss = losses.create("cosine_similarity")
    t = np.array([[1.0, 2.0, 2.0], [3.0, 0.0, -4.0], [1.0, 1.0, 1.0]])
    pred = np.array([[2.0, 4.0, 4.0], [-3.0, 0.0, 4.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(loss.sample_losses(pred, t), [-1.0, 1.0, 0.0])
    _, cache = loss.forward(pred, t)
    grad = loss.backward(cache)
    # aligned or opposite: no direction lowers the loss to first order
    np.testing.assert_allclose(grad[:2], 0.0, atol=1e-15)
    # zero prediction: Keras's capped normalisation has slope -unit(t) / 1e-7
    np.testing.assert_allclose(grad[2], -t[2] / np.sqrt(3) / EPSILON / 3)


@pytest.mark.parametrize(
    ("cfg", "activation"),
    [
        ({"type": "binary_crossentropy"}, "sigmoid"),
        ({"type": "binary_crossentropy", "label_smoothing": 0.2}, "sigmoid"),
        ({"type": "binary_focal_crossentropy"}, "sigmoid"),
        (
            {
                "type": "binary_focal_crossentropy",
                "apply_class_balancing": True,
                "gamma": 0.7,
                "label_smoothing": 0.1,
            },
            "sigmoid",
        ),
        ({"type": "categorical_crossentropy"}, "softmax"),
        ({"type": "categorical_crossentropy", "label_smoothing": 0.1}, "softmax"),
        ({"type": "sparse_categorical_crossentropy"}, "softmax"),
    ],
    ids=lambda c: case_id(c) if isinstance(c, dict) else c,
)
def test_logits_form_equals_probability_form_through_the_activation(cfg, activation):
    # what fusing relies on: loss(act(z)) and its chain-rule gradient equal the
    # logits form wherever the epsilon clip is inactive
    name = cfg["type"]
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
    prob_loss = losses.create(cfg)
    assert prob_loss.fuses_with == activation
    value_p, cache_p = prob_loss.forward(p, target)
    value_z, cache_z = prob_loss.with_logits().forward(z, target)
    assert float(value_p) == pytest.approx(float(value_z), rel=1e-12)
    chained = act.backward(prob_loss.backward(cache_p), z, p)
    np.testing.assert_allclose(
        chained, prob_loss.with_logits().backward(cache_z), rtol=1e-10, atol=1e-14
    )
