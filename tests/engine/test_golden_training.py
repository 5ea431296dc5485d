"""The seed example trained by nncli tracks Keras's own training of it.

Fixture: tests/fixtures/golden/keras_training.* (tests/golden/keras_training.py):
Keras 3 trained specs/moons.yaml's network for 500 steps (5 epochs of batch 8,
RMSprop, binary cross-entropy) from nncli's initial weights on nncli's data,
unshuffled. nncli replays it through its own training loop and must give the
same running loss and accuracy after every step, the same epoch logs
(validation included) and the same weights after every epoch.

Tolerances. float64: weights atol 1e-12 and losses rtol 1e-12 (measured: 2e-16
and 3.4e-16 after 500 steps), accuracy exact. float32 against the float64
reference: losses rtol 1e-5 (measured 7.6e-8), weights atol 1e-5 (measured
7.6e-7), and at most one borderline sample may land on the other side of 0.5
(measured: none).

The same curve through the real CLI: `nncli train specs/moons.yaml
--init-weights FILE` with the fixture's initial weights written as a
safetensors file must log Keras's epoch losses in metrics.csv and end at
Keras's weights (float64, the tolerances above).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import load_keras_golden
from safetensors.numpy import save_file
from typer.testing import CliRunner

from nncli.artifacts import RunReader
from nncli.cli import app
from nncli.data.batches import Batches
from nncli.train.loop import EpochEvent, StepEvent, train_epochs
from nncli.train.session import prepare

ARR, META = load_keras_golden("training")
CASE = "moons_rmsprop_bce"
REPO = Path(__file__).resolve().parents[2]
TOL = {
    "float64": {"loss": 1e-12, "weights": 1e-12, "accuracy_samples": 0},
    "float32": {"loss": 1e-5, "weights": 1e-5, "accuracy_samples": 1},
}


def _replay(dtype: str, backend_name: str):
    cfg = META["cases"][CASE]["nncli"]
    overrides = [o for o in cfg["overrides"] if not o.startswith("dtype=")]
    session = prepare(
        REPO / cfg["spec"], [*overrides, f"dtype={dtype}", f"backend={backend_name}"]
    )
    # the spec's data and initial weights are the ones Keras was given
    np.testing.assert_array_equal(session.splits.train.x, ARR["x_train"])
    np.testing.assert_array_equal(session.splits.validation.y, ARR["y_val"])
    w0 = {k.removeprefix("w0__"): v for k, v in ARR.items() if k.startswith("w0__")}
    start = session.model.network.get_weights()
    for k, v in w0.items():
        np.testing.assert_allclose(start[k], v, rtol=1e-6)  # float32 draws: rounded
    session.model.network.set_weights(w0)

    r, be = session.resolved, session.backend
    train = Batches(ARR["x_train"], ARR["y_train"], r["batch_size"], be)
    val = Batches(ARR["x_val"], ARR["y_val"], r["batch_size"], be)
    steps, epochs, weights = [], [], []
    for event in train_epochs(
        session.model, train, val, session.make_metrics, r["epochs"]
    ):
        if isinstance(event, StepEvent):
            steps.append((event.loss, event.logs["accuracy"]))
        elif isinstance(event, EpochEvent):
            epochs.append(event.logs)
            weights.append(session.model.network.get_weights())
        else:
            pytest.fail(f"training diverged: {event}")
    return np.array(steps), epochs, weights


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_seed_example_tracks_keras(dtype, backend):
    tol = TOL[dtype]
    steps, epochs, weights = _replay(dtype, backend.name)
    want_loss = ARR[f"{CASE}__step_loss"]
    assert len(steps) == len(want_loss) == 500
    np.testing.assert_allclose(steps[:, 0], want_loss, rtol=tol["loss"])
    # running accuracy after step k is a count over 8k samples
    seen = 8 * np.arange(1, len(steps) + 1) % 800
    seen[seen == 0] = 800
    diff = np.abs(steps[:, 1] - ARR[f"{CASE}__step_accuracy"]) * seen
    assert diff.max() <= tol["accuracy_samples"] + 1e-6, diff.max()

    for key in ("loss", "val_loss"):
        got = [e[key] for e in epochs]
        np.testing.assert_allclose(got, ARR[f"{CASE}__epoch_{key}"], rtol=tol["loss"])
    for key, n in (("accuracy", 800), ("val_accuracy", 200)):
        got = np.array([e[key] for e in epochs])
        miss = np.abs(got - ARR[f"{CASE}__epoch_{key}"]) * n
        assert miss.max() <= tol["accuracy_samples"] + 1e-6, (key, miss)
    for name in weights[0]:
        got = np.stack([w[name] for w in weights])
        want = ARR[f"{CASE}__weights__{name}"]
        np.testing.assert_allclose(got, want, rtol=0, atol=tol["weights"])


def test_reference_curve_is_a_real_training():
    """The fixture shows learning (the check above would be empty otherwise)."""
    loss = ARR[f"{CASE}__epoch_loss"]
    assert np.all(np.diff(loss) < 0) and loss[-1] < loss[0] - 0.05
    assert META["framework"] == "keras" and META["version"].startswith("3.")


def _cli_train(tmp_path: Path, weights: dict[str, np.ndarray], *extra: str):
    """`nncli train` of the fixture's spec and overrides from these weights."""
    cfg = META["cases"][CASE]["nncli"]
    path = tmp_path / "init.safetensors"
    save_file(weights, path)
    sets = [a for o in cfg["overrides"] for a in ("--set", o)]
    args = [str(REPO / cfg["spec"]), "--init-weights", str(path), *sets, *extra]
    result = CliRunner().invoke(
        app, ["train", *args, "--runs-dir", str(tmp_path / "runs"), "--quiet"]
    )
    assert result.exit_code == 0, result.stderr
    return RunReader(Path(result.stdout.strip().splitlines()[-1]))


def test_cli_train_from_init_weights_tracks_keras(tmp_path):
    """The seed example through `nncli train --init-weights`: metrics.csv holds
    Keras's loss curve (train and validation, every epoch) and the run ends at
    Keras's final weights."""
    w0 = {k.removeprefix("w0__"): v for k, v in ARR.items() if k.startswith("w0__")}
    run = _cli_train(tmp_path, w0)
    rows = run.metrics()
    assert len(rows) == len(ARR[f"{CASE}__epoch_loss"]) == 5
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4, 5]
    for key in ("loss", "val_loss"):
        got = [float(r[key]) for r in rows]
        np.testing.assert_allclose(
            got, ARR[f"{CASE}__epoch_{key}"], rtol=TOL["float64"]["loss"], err_msg=key
        )
    for key in ("accuracy", "val_accuracy"):
        got = [float(r[key]) for r in rows]
        np.testing.assert_array_equal(got, ARR[f"{CASE}__epoch_{key}"], err_msg=key)
    final = run.weights()
    assert set(final) == set(w0)
    for name, want in final.items():
        np.testing.assert_allclose(
            want,
            ARR[f"{CASE}__weights__{name}"][-1],
            rtol=0,
            atol=TOL["float64"]["weights"],
            err_msg=name,
        )


def test_cli_init_weights_file_sets_the_start(tmp_path):
    """Control: the fixture's initial weights are also the spec's seed draws, so
    the curve above would match even if the file were ignored; a shifted file
    must change the first epoch's loss."""
    w0 = {k.removeprefix("w0__"): v for k, v in ARR.items() if k.startswith("w0__")}
    shifted = {**w0, "layers.3.bias": w0["layers.3.bias"] + 1.0}
    rows = _cli_train(tmp_path, shifted, "--set", "epochs=1").metrics()
    assert len(rows) == 1
    assert abs(float(rows[0]["loss"]) - ARR[f"{CASE}__epoch_loss"][0]) > 1e-3
