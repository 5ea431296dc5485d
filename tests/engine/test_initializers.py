"""Initializers: Keras formulas, shapes, dtype, moments, determinism, identity."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

from nncli.engine.initializers import compute_fans, initializers

SHAPES = [(3, 4), (5,), (2, 3, 4, 5), ()]

# name: (limit or stddev as a function of (fan_in, fan_out), distribution)
VARIANCE_SCALING = {
    "glorot_uniform": (lambda i, o: math.sqrt(6 / (i + o)), "uniform"),
    "glorot_normal": (lambda i, o: math.sqrt(2 / (i + o)), "normal"),
    "he_uniform": (lambda i, o: math.sqrt(6 / i), "uniform"),
    "he_normal": (lambda i, o: math.sqrt(2 / i), "normal"),
    "lecun_uniform": (lambda i, o: math.sqrt(3 / i), "uniform"),
    "lecun_normal": (lambda i, o: math.sqrt(1 / i), "normal"),
}


@pytest.mark.parametrize("name", initializers.names())
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_shape_dtype_and_seed_determinism(name, shape):
    if name == "identity" and len(shape) != 2:
        pytest.skip("identity is 2-D only (tested below)")
    if name == "orthogonal" and len(shape) < 2:
        pytest.skip("orthogonal needs rank >= 2 (tested below)")
    init = initializers.create(name)
    a = init(np.random.default_rng(7), shape)
    b = init(np.random.default_rng(7), shape)
    assert isinstance(a, np.ndarray) and a.dtype == np.float64 and a.shape == shape
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", sorted(VARIANCE_SCALING))
def test_moments_and_bounds_on_a_large_draw(name):
    shape = (300, 500)  # fan_in 300, fan_out 500
    scale_of, distribution = VARIANCE_SCALING[name]
    w = initializers.create(name)(np.random.default_rng(0), shape)
    s = scale_of(300, 500)
    if distribution == "uniform":  # U(-limit, limit): std limit / sqrt 3
        assert np.all(np.abs(w) <= s) and np.abs(w).max() > 0.999 * s
        expected_std = s / math.sqrt(3)
    else:  # truncated at 2 stddev of the untruncated normal s / 0.8796...
        assert np.all(np.abs(w) <= 2 * s / 0.87962566103423978)
        expected_std = s
    assert abs(w.mean()) < 0.01 * expected_std
    assert w.std() == pytest.approx(expected_std, rel=0.01)
    assert not np.array_equal(
        w, initializers.create(name)(np.random.default_rng(1), shape)
    )


def test_variance_scaling_modes_and_untruncated_normal():
    rng = np.random.default_rng(0)
    vs = initializers.get("variance_scaling")
    w = vs(scale=2.0, mode="fan_out", distribution="untruncated_normal")(
        rng, (200, 400)
    )
    assert w.std() == pytest.approx(math.sqrt(2 / 400), rel=0.01)
    assert np.abs(w).max() > 2 * math.sqrt(2 / 400)  # not truncated
    # Keras clamps the fan at 1, so an empty shape behaves like fan 1
    assert np.abs(vs(distribution="uniform")(rng, (1000,))).max() <= math.sqrt(3 / 1000)


def test_compute_fans_like_keras():
    assert compute_fans(()) == (1.0, 1.0)
    assert compute_fans((7,)) == (7.0, 7.0)
    assert compute_fans((3, 5)) == (3.0, 5.0)
    assert compute_fans((3, 3, 4, 8)) == (36.0, 72.0)  # conv kernel: 3x3 receptive


def test_constant_zeros_ones():
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(initializers.create("zeros")(rng, (2, 2)), 0.0)
    np.testing.assert_array_equal(initializers.create("ones")(rng, (2, 2)), 1.0)
    const = initializers.create({"type": "constant", "value": -3.5})(rng, (2, 3))
    np.testing.assert_array_equal(const, np.full((2, 3), -3.5))
    assert initializers.get("constant").Config().value == 0.0  # Keras default


def test_identity_square_non_square_gain_and_rank_error():
    rng = np.random.default_rng(0)
    identity = initializers.create("identity")
    np.testing.assert_array_equal(identity(rng, (3, 3)), np.eye(3))
    np.testing.assert_array_equal(identity(rng, (2, 4)), np.eye(2, 4))
    scaled = initializers.create({"type": "identity", "gain": 2.5})(rng, (4, 2))
    np.testing.assert_array_equal(scaled, 2.5 * np.eye(4, 2))
    for shape in [(3,), (2, 2, 2)]:
        with pytest.raises(ValueError, match="identity initializer needs a 2-D"):
            identity(rng, shape)


@pytest.mark.parametrize("name", initializers.names())
def test_config_defaults_match_constructor(name):
    cls = initializers.get(name)
    fields = {k: v for k, v in cls.Config().model_dump().items() if k != "type"}
    params = inspect.signature(cls.__init__).parameters
    defaults = {
        k: p.default for k, p in params.items() if k not in ("self", "args", "kwargs")
    }
    assert defaults == fields
    assert isinstance(initializers.create(cls.Config().model_dump()), cls)


def test_orthogonal_needs_rank_two_and_flattens_conv_kernels():
    rng = np.random.default_rng(0)
    orthogonal = initializers.create("orthogonal")
    for shape in [(3,), ()]:
        with pytest.raises(ValueError, match="orthogonal initializer needs a weight"):
            orthogonal(rng, shape)
    w = orthogonal(rng, (3, 3, 4, 8)).reshape(36, 8)  # tall: orthonormal columns
    np.testing.assert_allclose(w.T @ w, np.eye(8), atol=1e-12)


def test_keras_aliases_and_defaults_of_the_plain_random_initializers():
    rng = np.random.default_rng(0)
    for alias, name in [
        ("normal", "random_normal"),
        ("uniform", "random_uniform"),
        ("zero", "zeros"),
        ("one", "ones"),
    ]:
        assert initializers.canonical(alias) == name
    assert initializers.get("random_normal").Config().stddev == 0.05
    assert initializers.get("truncated_normal").Config().stddev == 0.05
    uniform = initializers.get("random_uniform").Config()
    assert (uniform.minval, uniform.maxval) == (-0.05, 0.05)
    w = initializers.create("truncated_normal")(rng, (400, 500))
    assert np.abs(w).max() <= 0.1  # 2 stddev; draws' std is 0.8796 * 0.05
    assert w.std() == pytest.approx(0.87962566103423978 * 0.05, rel=0.01)
    # variance_scaling's "normal" is Keras's alias of truncated_normal
    vs = initializers.get("variance_scaling")
    a = vs(distribution="normal")(np.random.default_rng(1), (50, 60))
    b = vs(distribution="truncated_normal")(np.random.default_rng(1), (50, 60))
    np.testing.assert_array_equal(a, b)


def test_random_uniform_rejects_minval_above_maxval():
    config = initializers.get("random_uniform").Config
    with pytest.raises(ValueError, match="minval"):
        config(minval=1.0, maxval=0.0)
    assert config(minval=0.5, maxval=0.5).minval == 0.5
