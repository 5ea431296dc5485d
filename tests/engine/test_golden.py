"""Golden values from PyTorch (tests/fixtures/golden, made by make_golden.py).

Tolerances: float64 rtol 1e-10, float32 rtol 1e-5; optimizer trajectories
1e-10 in float64 and 1e-5 in float32. Each sidecar names the framework and
version and, per case, whether the reference is torch or the numpy
transcription of the Keras 3 formula (where torch's convention differs).
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import load_golden

from nncli.engine.activations import activations
from nncli.engine.backend import Backend
from nncli.engine.losses import losses
from nncli.engine.optimizers import optimizers

TOL = {
    "float64": {"rtol": 1e-10, "atol": 1e-12},
    "float32": {"rtol": 1e-5, "atol": 1e-6},
}
ACT, ACT_META = load_golden("activations")
LOSS, LOSS_META = load_golden("losses")
OPT, OPT_META = load_golden("optimizers")


def test_sidecars_name_the_reference():
    for meta in (ACT_META, LOSS_META, OPT_META):
        assert meta["framework"] == "torch" and meta["version"]
        assert meta["dtype"] == "float64" and meta["conventions"]
        assert all(case["reference"] for case in meta["cases"].values())


def _backend(backend: Backend, dtype: str) -> Backend:
    return Backend.from_name(backend.name, dtype=dtype)


def _check(be: Backend, got, want: np.ndarray, dtype: str, what: str) -> None:
    got = be.to_numpy(got)
    assert got.shape == want.shape, what
    assert got.dtype == np.dtype(dtype), what
    np.testing.assert_allclose(got, want, err_msg=what, **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", sorted(ACT_META["cases"]))
def test_activation_forward_and_backward(case, dtype, backend):
    be = _backend(backend, dtype)
    act = activations.create(ACT_META["cases"][case]["nncli"])
    x, dy = be.asarray(ACT["x"]), be.asarray(ACT["dy"])
    y = act.forward(x)
    _check(be, y, ACT[f"{case}__y"], dtype, f"{case} y")
    _check(be, act.backward(dy, x, y), ACT[f"{case}__dx"], dtype, f"{case} dx")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", sorted(LOSS_META["cases"]))
def test_loss_value_and_gradient(case, dtype, backend):
    be = _backend(backend, dtype)
    loss = losses.create(LOSS_META["cases"][case]["nncli"])
    target = LOSS[f"{case}__target"]
    weights = LOSS.get(f"{case}__weights")
    value, cache = loss.forward(
        be.asarray(LOSS[f"{case}__pred"]),
        be.asarray(target, dtype=target.dtype),
        None if weights is None else be.asarray(weights),
    )
    _check(be, value, LOSS[f"{case}__loss"], dtype, f"{case} loss")
    _check(be, loss.backward(cache), LOSS[f"{case}__grad"], dtype, f"{case} grad")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", sorted(OPT_META["cases"]))
def test_optimizer_trajectory(case, dtype, backend):
    be = _backend(backend, dtype)
    # registry.create does no validation, so the epsilon = 0 cases (where the
    # Keras and torch formulas coincide exactly) can be built directly
    opt = optimizers.create(OPT_META["cases"][case]["nncli"])
    names = ("kernel", "bias")
    # copy: asarray aliases a float64 numpy array, and step() updates in place
    params = {k: be.asarray(OPT[f"w0__{k}"].copy()) for k in names}
    steps = OPT[f"grads__{names[0]}"].shape[0]
    for step in range(steps):
        opt.step(params, {k: be.asarray(OPT[f"grads__{k}"][step]) for k in names})
        for k in names:
            want = OPT[f"{case}__{k}"][step]
            _check(be, params[k], want, dtype, f"{case} {k} after step {step + 1}")
