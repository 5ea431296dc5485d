"""Golden metric values from Keras 3 (tests/golden/keras_metrics.py).

Each case feeds the same rows, in the same batches, to an nncli metric built
by `build_metrics` (as a run builds it) and compares the epoch result with the
Keras metric's after update_state over those batches.

Tolerances: float64 rtol 1e-10; float32 rtol 1e-5 (inputs rounded to float32
move sums and probabilities by about 1e-7 relative). Counting metrics
(accuracy, precision, recall, F1, AUC) are exact unless rounding moves an input
across a threshold. Ties at a threshold survive float32 (0.3 in a float32
comparison is float32(0.3)), but AUC compares with its float64 thresholds, so
a prediction sitting exactly on one may change bucket: those cases get an
absolute 5e-3 in float32 (see `_moves_across_an_auc_edge`).
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import load_golden

from nncli.engine.backend import Backend
from nncli.engine.metrics import build_metrics, metrics

GOLD, META = load_golden("keras_metrics")
TOL = {
    "float64": {"rtol": 1e-10, "atol": 1e-12},
    "float32": {"rtol": 1e-5, "atol": 1e-6},
}


def test_sidecar_names_keras_and_its_version():
    assert META["framework"] == "keras"
    major = int(META["version"].split(".")[0])
    assert major == 3, META["version"]
    assert META["backend"].startswith("jax") and META["conventions"]
    for case in META["cases"].values():
        assert case["keras"].startswith("keras.metrics.")
        assert case["nncli"]["type"] in metrics


def test_every_registered_metric_has_a_golden_case():
    covered = {c["nncli"]["type"] for c in META["cases"].values()}
    assert set(metrics.names()) <= covered, set(metrics.names()) - covered


def _replay(case: dict, be: Backend, batches: list[int]) -> tuple[str, float]:
    data = case["data"]
    pred = GOLD[f"data_{data}__pred"]
    target = GOLD[f"data_{data}__target"]
    (column, metric), *rest = build_metrics(
        [case["nncli"]], case["target_kind"], case["units"]
    ).items()
    assert not rest
    start = 0
    for size in batches:
        rows = slice(start, start + size)
        t = target[rows]
        metric.update(
            be.asarray(pred[rows]),
            be.asarray(t, dtype=np.int64 if t.dtype.kind == "i" else None),
            logits=case["logits"],
        )
        start += size
    assert start == len(pred)
    return column, metric.result()


def _moves_across_an_auc_edge(case: dict) -> bool:
    """Does rounding the inputs to float32 move one across an AUC threshold?

    The golden data puts predictions exactly on thresholds (0.3 is one of 11),
    and float32(0.3) is above 0.3: that prediction changes bucket, so the
    float32 area is a slightly different, equally right, number.
    """
    if case["nncli"]["type"] != "auc" or case["logits"]:
        return False
    n = case["nncli"].get("num_thresholds", 200)
    inner = (np.arange(n - 2) + 1) * 1.0 / (n - 1)
    p = GOLD[f"data_{case['data']}__pred"]
    p32 = p.astype(np.float32).astype(np.float64)
    return bool((np.searchsorted(inner, p) != np.searchsorted(inner, p32)).any())


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(META["cases"]))
def test_metric_matches_keras(name, dtype, backend):
    case = META["cases"][name]
    be = Backend.from_name(backend.name, dtype=dtype)
    column, got = _replay(case, be, case["batches"])
    assert column == (
        case["nncli"].get("name") or metrics.canonical(case["nncli"]["type"])
    )
    want = float(GOLD[f"{name}__result"])
    tol = TOL[dtype]
    if dtype == "float32" and _moves_across_an_auc_edge(case):
        tol = {"rtol": 0, "atol": 5e-3}  # one of 23 predictions moved one bucket
    np.testing.assert_allclose(got, want, err_msg=case["keras"], **tol)


@pytest.mark.parametrize("name", sorted(META["cases"]))
def test_other_batchings_give_the_keras_result(name):
    """Keras saw BATCHES-sized updates; one batch, or one row at a time, agree."""
    case = META["cases"][name]
    be = Backend.from_name("numpy", dtype="float64")
    n = len(GOLD[f"data_{case['data']}__pred"])
    want = float(GOLD[f"{name}__result"])
    for batches in ([n], [1] * n, [n - n // 2, 0, n // 2]):
        _, got = _replay(case, be, batches)
        np.testing.assert_allclose(got, want, err_msg=str(batches), **TOL["float64"])


def test_stock_keras_agrees_to_float32_precision():
    """The float64 reference only removes Keras's float32 rounding."""
    for name in META["cases"]:
        np.testing.assert_allclose(
            GOLD[f"{name}__stock"], GOLD[f"{name}__result"], rtol=1e-6, err_msg=name
        )
