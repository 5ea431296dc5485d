"""Every loss against Keras 3 (tests/fixtures/golden/keras_losses.*, made by
tests/golden/keras_losses.py): value and d loss / d pred, without and with
sample weights.

Tolerances: float64 rtol 1e-10; float32 rtol 1e-5 (atol 1e-6) against the
float64 reference, or, for the hostile cases, against Keras in float32 (clip
bounds round differently there). Cases where nncli deliberately differs
from Keras on JAX name their rule; they are checked against it, and Keras's
own numbers are checked to really differ in the way the sidecar says.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import load_keras_golden

from nncli.engine.backend import Backend
from nncli.engine.losses import losses

TOL = {
    "float64": {"rtol": 1e-10, "atol": 1e-12},
    "float32": {"rtol": 1e-5, "atol": 1e-6},
}
GOLD, META = load_keras_golden("losses")
CASES = sorted(META["cases"])
DIFFERING = sorted(c for c in CASES if META["cases"][c].get("rule"))


def test_sidecar_names_keras_and_its_version():
    assert META["framework"] == "keras" and META["version"].startswith("3.")
    assert META["backend"].startswith("jax") and META["dtype"] == "float64"
    assert META["kind"] == "losses" and META["conventions"]
    for name, case in META["cases"].items():
        assert case["keras"].startswith("keras.losses."), name
        assert case["nncli"]["type"] in losses, name


def test_every_registered_loss_and_option_has_a_golden_case():
    types = {META["cases"][c]["nncli"]["type"] for c in CASES}
    assert types == set(losses.names())
    options = {
        (case["nncli"]["type"], key)
        for case in META["cases"].values()
        for key in case["nncli"]
        if key != "type"
    }
    for name in losses.names():
        for key in losses.get(name).Config.model_fields:
            if key != "type":
                assert (name, key) in options, f"{name}.{key} has no golden case"
    hostile = {META["cases"][c]["nncli"]["type"] for c in CASES if _hostile(c)}
    assert hostile == set(losses.names())


def _hostile(case: str) -> bool:
    return META["cases"][case]["hostile"]


def _run(case: str, be: Backend, weighted: bool):
    loss = losses.create(META["cases"][case]["nncli"])
    target = GOLD[f"{case}__target"]
    weights = GOLD["weights"] if weighted else None
    value, cache = loss.forward(
        be.asarray(GOLD[f"{case}__pred"]),
        be.asarray(target, dtype=target.dtype if target.dtype.kind == "i" else None),
        None if weights is None else be.asarray(weights),
    )
    return be.to_numpy(value), be.to_numpy(loss.backward(cache))


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", CASES)
def test_value_and_gradient_match_keras(case, dtype, weighted, backend):
    be = Backend.from_name(backend.name, dtype=dtype)
    value, grad = _run(case, be, weighted)
    f32 = "_f32" if dtype == "float32" and _hostile(case) else ""
    for what, got in (("loss", value), ("grad", grad)):
        want = GOLD[f"{case}__{what}{f32}"][int(weighted)]
        assert got.shape == want.shape and got.dtype == np.dtype(dtype), what
        assert np.isfinite(got).all(), f"{case} {what}: not finite"
        np.testing.assert_allclose(got, want, err_msg=what, **TOL[dtype])


@pytest.mark.parametrize("case", DIFFERING)
def test_stated_differences_from_keras_are_real(case):
    """Keras's own numbers differ from nncli's rule, as the sidecar says."""
    meta = META["cases"][case]
    assert meta["differs"] and meta["hostile"]
    rule = meta["rule"]
    for i in (0, 1):  # unweighted, weighted
        keras_loss = GOLD[f"{case}__keras_loss"][i]
        keras_grad = GOLD[f"{case}__keras_grad"][i]
        ours_loss, ours_grad = GOLD[f"{case}__loss"][i], GOLD[f"{case}__grad"][i]
        assert np.isfinite(ours_loss).all() and np.isfinite(ours_grad).all()
        if rule in ("cce_zero_row",):  # Keras: NaN loss and gradients
            assert np.isnan(keras_loss) and np.isnan(keras_grad).any()
        elif rule in ("cosine_capped_slope", "focal_flat_at_certainty"):
            # same loss, NaN gradient (only) where nncli's rule applies
            np.testing.assert_allclose(keras_loss, ours_loss, rtol=1e-12)
            bad = np.isnan(keras_grad)
            assert bad.any()
            np.testing.assert_allclose(keras_grad[~bad], ours_grad[~bad], rtol=1e-12)
        elif rule == "abs_balanced":  # same loss; at ties only, Keras has +-1
            np.testing.assert_allclose(keras_loss, ours_loss, rtol=1e-12)
            pred, target = GOLD[f"{case}__pred"], GOLD[f"{case}__target"]
            tie = pred == target
            assert tie.any() and (ours_grad[tie] == 0).all()
            assert (keras_grad[tie] != 0).any()
            np.testing.assert_allclose(keras_grad[~tie], ours_grad[~tie], rtol=1e-12)
        elif rule == "focal_tensorflow":  # Keras on JAX caps the loss at 16.1
            assert np.isfinite(keras_loss) and keras_loss < ours_loss
        else:
            raise AssertionError(f"unknown rule {rule}")


def test_focal_logits_of_1e4_keep_learning_where_keras_on_jax_stalls():
    case = "focal_logits_1e4"
    z, t = GOLD[f"{case}__pred"], GOLD[f"{case}__target"]
    wrong = (z == -1e4) & (t == 1) | (z == 1e4) & (t == 0)
    ours, theirs = GOLD[f"{case}__grad"][0], GOLD[f"{case}__keras_grad"][0]
    assert wrong.any() and (theirs[wrong] == 0).all()
    assert (np.sign(ours[wrong]) == np.where(t[wrong] == 1, -1, 1)).all()
