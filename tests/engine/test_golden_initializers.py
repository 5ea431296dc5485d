"""Initializers against Keras 3 (tests/golden/keras_initializers.py).

Random draws cannot match Keras's (JAX's PRNG against numpy's), so each random
case compares distributions: Keras's own parameters (bounds, stddev, fans,
captured from its keras.random calls) and the moments of >= 2**18 Keras draws,
against >= 2**18 nncli draws of the same shape.

Tolerances, all at Z = 6 standard errors (a correct implementation fails a
given check with probability ~2e-9):
- mean: |m - mu| <= Z sigma / sqrt(n); two samples: Z sigma sqrt(1/n1 + 1/n2);
- std: the sample std has standard error sigma sqrt((kurtosis - 1) / (4 n))
  (delta method); every distribution here has kurtosis <= 3 (uniform 1.8,
  normal truncated at 2 sigma 2.37, normal 3, Haar-orthogonal entries < 3), so
  sigma / sqrt(2 n) bounds it;
- bounds hold exactly; a bounded sample gets within delta of each bound, with
  delta such that P(no draw within delta) <= exp(-25): uniform
  25 (hi - lo) / n, truncated normal 25 stddev / (0.0566 n) (0.0566 = the
  truncated density at the edge, phi(2) / (Phi(2) - Phi(-2)), per stddev);
- unbounded normals reach beyond mu +- 3.5 sigma (P(not) ~ exp(-61)).
Deterministic initializers (zeros, ones, constant, identity) match exactly.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import load_keras_golden

from nncli.engine.initializers import TRUNCATED_STD, compute_fans, initializers

Z = 6.0
EDGE_DENSITY = 0.0566  # truncated standard normal density at +-2, rounded down
ARRAYS, META = load_keras_golden("initializers")
RANDOM = sorted(k for k, c in META["cases"].items() if "keras_parameters" in c)
FIXED = sorted(k for k, c in META["cases"].items() if "keras_parameters" not in c)


def test_sidecar_names_keras_and_covers_every_initializer():
    assert META["framework"] == "keras" and META["version"].startswith("3.")
    types = {case["nncli"]["type"] for case in META["cases"].values()}
    assert set(initializers.names()) <= types
    assert RANDOM and FIXED


def _shape(name: str) -> tuple[int, ...]:
    return tuple(int(d) for d in ARRAYS[f"{name}__shape"])


def _draw(name: str, n_values: int, seed: int = 0) -> np.ndarray:
    """At least n_values values from repeated draws of the case's shape."""
    shape = _shape(name)
    init = initializers.create(META["cases"][name]["nncli"])
    rng = np.random.default_rng(seed)
    draws = [init(rng, shape) for _ in range(math.ceil(n_values / math.prod(shape)))]
    assert all(w.shape == shape and w.dtype == np.float64 for w in draws)
    return np.concatenate([w.ravel() for w in draws])


def _expected(name: str) -> tuple[float, float]:
    """(mu, sigma) of one value, from Keras's recorded parameters."""
    p = META["cases"][name]["keras_parameters"]
    cfg = META["cases"][name]["nncli"]
    if cfg["type"] == "orthogonal":  # columns (or rows) of norm gain
        return 0.0, cfg.get("gain", 1.0) / math.sqrt(max(p["drawn_shape"]))
    if p["distribution"] == "uniform":
        lo, hi = p["minval"], p["maxval"]
        return (lo + hi) / 2, (hi - lo) / math.sqrt(12)
    if p["distribution"] == "truncated_normal":
        return p["mean"], TRUNCATED_STD * p["stddev"]
    return p["mean"], p["stddev"]


@pytest.mark.parametrize("name", RANDOM)
def test_moments_and_bounds_match_keras(name):
    p = META["cases"][name]["keras_parameters"]
    mean_k, std_k, min_k, max_k, n_k = ARRAYS[f"{name}__moments"]
    v = _draw(name, int(n_k))
    n = v.size
    assert compute_fans(_shape(name)) == (p["fan_in"], p["fan_out"])
    mu, sigma = _expected(name)
    # the Keras sample agrees with the parameters we read from Keras ...
    assert abs(mean_k - mu) <= Z * sigma / math.sqrt(n_k)
    assert abs(std_k - sigma) <= Z * sigma / math.sqrt(2 * n_k)
    # ... and nncli's sample with both
    assert abs(v.mean() - mu) <= Z * sigma / math.sqrt(n)
    assert abs(v.std() - sigma) <= Z * sigma / math.sqrt(2 * n)
    assert abs(v.mean() - mean_k) <= Z * sigma * math.sqrt(1 / n + 1 / n_k)
    assert abs(v.std() - std_k) <= Z * sigma * math.sqrt((1 / n + 1 / n_k) / 2)
    kind = p["distribution"]
    if META["cases"][name]["nncli"]["type"] == "orthogonal":
        return  # bounds: see the orthogonality test
    if kind == "normal":  # untruncated: both samples reach the tails
        for lo, hi in ((v.min(), v.max()), (min_k, max_k)):
            assert lo < mu - 3.5 * sigma and hi > mu + 3.5 * sigma
        return
    if kind == "uniform":
        lo, hi, delta = p["minval"], p["maxval"], 25 * (p["maxval"] - p["minval"])
    else:
        lo, hi, delta = p["lower"], p["upper"], 25 * p["stddev"] / EDGE_DENSITY
    for smallest, largest, size in ((v.min(), v.max(), n), (min_k, max_k, n_k)):
        assert lo <= smallest <= lo + delta / size
        assert hi - delta / size <= largest <= hi


@pytest.mark.parametrize("name", [n for n in RANDOM if n.startswith("orthogonal")])
def test_orthogonal_is_orthogonal_with_its_gain(name):
    shape = _shape(name)
    gain = META["cases"][name]["nncli"].get("gain", 1.0)
    for seed in range(3):
        w = initializers.create(META["cases"][name]["nncli"])(
            np.random.default_rng(seed), shape
        )
        q = w.reshape(-1, shape[-1])  # (prod(shape[:-1]), shape[-1])
        gram = q.T @ q if q.shape[0] >= q.shape[1] else q @ q.T
        np.testing.assert_allclose(gram, gain**2 * np.eye(len(gram)), atol=1e-12)


@pytest.mark.parametrize("name", RANDOM)
def test_same_seed_same_weights(name):
    shape = _shape(name)
    init = initializers.create(META["cases"][name]["nncli"])
    a = init(np.random.default_rng(5), shape)
    np.testing.assert_array_equal(a, init(np.random.default_rng(5), shape))
    assert not np.array_equal(a, init(np.random.default_rng(6), shape))


@pytest.mark.parametrize("name", FIXED)
def test_deterministic_initializers_equal_keras(name):
    init = initializers.create(META["cases"][name]["nncli"])
    w = init(np.random.default_rng(0), _shape(name))
    assert w.dtype == np.float64
    np.testing.assert_array_equal(w, ARRAYS[f"{name}__value"])
