"""BLAS helpers. one_blas_thread: a recurrent layer's small per-step GEMMs run
on one BLAS thread (a second one costs more than it saves), and nothing else
changes. sum_rows: bias gradients of tall arrays as a GEMV."""

import numpy as np
import pytest
import threadpoolctl

from nncli.engine import backend as backend_module
from nncli.engine.backend import SMALL_GEMM_FLOPS, one_blas_thread
from nncli.engine.layers import layers


def blas_threads() -> int:
    return max(
        i["num_threads"]
        for i in threadpoolctl.threadpool_info()
        if i["user_api"] == "blas"
    )


@pytest.fixture
def two_threads():
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        if blas_threads() < 2:
            pytest.skip("this BLAS cannot run two threads")
        yield


def test_small_gemms_get_one_thread_and_the_count_comes_back(two_threads):
    with one_blas_thread(np, SMALL_GEMM_FLOPS - 1):
        assert blas_threads() == 1
    assert blas_threads() == 2


def test_large_gemms_and_other_modules_keep_their_threads(two_threads):
    with one_blas_thread(np, SMALL_GEMM_FLOPS):
        assert blas_threads() == 2

    class OtherModule:  # cupy, say: its BLAS is not numpy's
        pass

    with one_blas_thread(OtherModule, 10):
        assert blas_threads() == 2


@pytest.mark.parametrize("kind", ["simple_rnn", "lstm", "gru"])
def test_a_recurrent_layer_scans_on_one_thread_with_the_same_numbers(
    kind, two_threads, monkeypatch
):
    """The scans see one thread; the outputs and gradients are those of a run
    with the limit off (a BLAS computes each product the same either way)."""
    from nncli.engine.backend import Backend

    be = Backend.from_name("numpy", "float64")
    seen = []

    def run():
        layer = layers.create({"type": kind, "units": 5, "return_sequences": True})
        layer.build((7, 3), be, np.random.default_rng(0))
        scan, back = layer._scan, layer._scan_back

        def spy_scan(*a):
            seen.append(blas_threads())
            return scan(*a)

        def spy_back(*a):
            seen.append(blas_threads())
            return back(*a)

        layer._scan, layer._scan_back = spy_scan, spy_back
        x = np.random.default_rng(1).standard_normal((4, 7, 3))
        y, cache = layer.forward(x, training=True)
        dx = layer.backward(np.ones_like(y), cache)
        return y, dx, {k: g.copy() for k, g in layer.grads.items()}

    y1, dx1, g1 = run()
    assert seen == [1, 1]
    monkeypatch.setattr(backend_module, "SMALL_GEMM_FLOPS", 0)
    seen.clear()
    y2, dx2, g2 = run()
    assert seen == [2, 2]
    np.testing.assert_allclose(y1, y2, rtol=1e-12)
    np.testing.assert_allclose(dx1, dx2, rtol=1e-12)
    for k in g1:
        np.testing.assert_allclose(g1[k], g2[k], rtol=1e-12)


@pytest.mark.parametrize("rows", [3, 255, 256, 5000])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sum_rows_is_the_column_sum_by_either_route(rows, dtype):
    """Bias gradients: tall arrays are summed as ones @ a (BLAS), short ones
    by numpy; both give the column sums to rounding."""
    from nncli.engine.layers import SUM_ROWS_GEMV, sum_rows

    a = np.random.default_rng(rows).standard_normal((rows, 33)).astype(dtype)
    out = np.full(33, np.nan, dtype)
    sum_rows(np, a, out)
    exact = a.astype(np.float64).sum(axis=0)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(out, exact, rtol=tol, atol=tol * np.abs(a).sum(0).max())
    if rows < SUM_ROWS_GEMV:  # the short route is numpy's own sum, bit for bit
        np.testing.assert_array_equal(out, a.sum(axis=0))
