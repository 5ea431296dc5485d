"""Every optimizer against Keras 3 (tests/fixtures/golden/keras_optimizers.*).

The fixtures come from tests/golden/keras_optimizers.py: 10 steps of
`apply_gradients` in float64 on JAX, from fixed weights and gradients. Each
case is replayed with nncli's optimizer built from the case's config, in
float64 (rtol 1e-10) and float32 (rtol 1e-5 after 10 steps).
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import load_keras_golden

from nncli.engine.backend import Backend
from nncli.engine.optimizers import CLIP_OPTIONS, optimizers

GOLD, META = load_keras_golden("optimizers")
CASES = META["cases"]
NAMES = ("kernel", "bias")
STEPS = GOLD["grads__kernel"].shape[0]
TOL = {
    "float64": {"rtol": 1e-10, "atol": 1e-12},
    "float32": {"rtol": 1e-5, "atol": 1e-6},
}


def test_sidecar_names_keras_and_its_version():
    assert META["framework"] == "keras" and META["version"].startswith("3.")
    assert META["backend"].startswith("jax") and META["dtype"] == "float64"
    assert META["kind"] == "optimizers" and META["conventions"]
    for case in CASES.values():
        cls = case["keras"].removeprefix("keras.optimizers.").split("(")[0]
        assert cls.lower() == case["nncli"]["type"]


def test_every_optimizer_and_option_has_a_golden_case():
    """Defaults, and every option field of every registered optimizer's Config
    (learning rate, each clip option, weight_decay and its own options), so a
    new optimizer or option without a Keras case fails here."""
    assert {c["nncli"]["type"] for c in CASES.values()} == set(optimizers.names())
    options = {(c["nncli"]["type"], k) for c in CASES.values() for k in c["nncli"]}
    for name in optimizers.names():
        configs = [c["nncli"] for c in CASES.values() if c["nncli"]["type"] == name]
        assert {"type": name} in configs, f"{name}: no case with its defaults"
        for key in optimizers.get(name).Config.model_fields:
            assert (name, key) in options, f"{name}.{key} has no golden case"


def test_every_optimizer_has_a_case_clipping_and_decaying_in_one_step():
    """Keras clips the gradient before the decoupled weight decay; a case with
    both pins that order for each optimizer."""
    for name in optimizers.names():
        assert any(
            c["nncli"]["type"] == name
            and c["nncli"].get("weight_decay")
            and any(o in c["nncli"] for o in CLIP_OPTIONS)
            for c in CASES.values()
        ), name


def test_case_configs_are_valid_specs():
    for case in CASES.values():
        cfg = case["nncli"]
        dump = optimizers.get(cfg["type"]).Config(**cfg).model_dump()
        for key, value in cfg.items():
            if isinstance(value, dict):  # a schedule: its defaults are filled in
                assert value.items() <= dump[key].items(), key
            else:
                assert dump[key] == value, key


def _sizes(option: str) -> np.ndarray:
    """(steps,) the gradient size each clip option compares with its limit."""
    flat = [GOLD[f"grads__{k}"].reshape(STEPS, -1) for k in NAMES]  # (steps, n)
    if option == "clipvalue":
        return np.max([np.abs(g).max(axis=1) for g in flat], axis=0)
    squares = [(g**2).sum(axis=1) for g in flat]
    if option == "clipnorm":  # each tensor on its own: the largest one
        return np.sqrt(np.max(squares, axis=0))
    return np.sqrt(np.sum(squares, axis=0))  # global_clipnorm


@pytest.mark.parametrize("option", CLIP_OPTIONS)
def test_clip_limits_engage_on_some_steps_only(option):
    limits = {c["nncli"][option] for c in CASES.values() if option in c["nncli"]}
    assert limits
    for limit in limits:
        clipped = _sizes(option) > limit
        assert clipped.any() and not clipped.all(), (option, limit, _sizes(option))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_trajectory_matches_keras(case, dtype, backend):
    be = Backend.from_name(backend.name, dtype=dtype)
    cfg = CASES[case]["nncli"]
    opt = optimizers.create(optimizers.get(cfg["type"]).Config(**cfg).model_dump())
    keys = {k: f"layers.0.{k}" for k in NAMES}
    # copy: asarray may alias a float64 numpy array, and step() works in place
    params = {keys[k]: be.asarray(GOLD[f"w0__{k}"].copy()) for k in NAMES}
    for step in range(STEPS):
        opt.step(
            params, {keys[k]: be.asarray(GOLD[f"grads__{k}"][step]) for k in NAMES}
        )
        for k in NAMES:
            got = be.to_numpy(params[keys[k]])
            want = GOLD[f"{case}__{k}"][step]
            what = f"{case} {k} after step {step + 1} ({dtype})"
            assert got.dtype == np.dtype(dtype) and got.shape == want.shape, what
            np.testing.assert_allclose(got, want, err_msg=what, **TOL[dtype])
