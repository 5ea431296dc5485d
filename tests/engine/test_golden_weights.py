"""Class weights and sample weights train as in Keras.

Fixture: tests/fixtures/golden/keras_weights.* (tests/golden/keras_weights.py):
Keras 3 trained four small networks for 3 epochs of batch 8 (50 samples, so a
partial last batch) with class_weight, sample_weight, both, and balanced
class weights, unshuffled, from given initial weights. nncli reads the same
data from .npz files through a spec (`data.sample_weight`, `class_weight`),
so the whole path is exercised: reader, class-weight resolution, batches, the
training loop and the evaluation. It must give Keras's running loss and
accuracy after every step, its epoch logs (validation loss weighted only by
the validation data's own sample weights, metrics never weighted) and its
weights after every epoch.

Tolerances. float64: losses rtol 1e-12 and weights atol 1e-12 (measured:
4.4e-16 for both), accuracy exact. float32 against the float64 reference:
losses rtol 1e-5 (measured 1.3e-7), weights atol 1e-5 (measured 4.3e-7), at
most one sample's accuracy may differ (measured: none).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import load_keras_golden

from nncli.train.loop import EpochEvent, StepEvent, train_epochs
from nncli.train.run import make_batches
from nncli.train.session import prepare

ARR, META = load_keras_golden("weights")
CASES = sorted(META["cases"])
TOL = {
    "float64": {"loss": 1e-12, "weights": 1e-12, "samples": 0},
    "float32": {"loss": 1e-5, "weights": 1e-5, "samples": 1},
}


def _arrays(case: str) -> dict[str, np.ndarray]:
    prefix = f"{case}__"
    return {k.removeprefix(prefix): v for k, v in ARR.items() if k.startswith(prefix)}


def _spec(tmp_path: Path, case: str) -> Path:
    cfg, a = META["cases"][case]["nncli"], _arrays(case)
    for role in ("train", "val"):
        arrays = {"x": a[f"x_{role}"], "y": a[f"y_{role}"]}
        if cfg["sample_weight"]:
            arrays["w"] = a[f"w_{role}"]
        np.savez(tmp_path / f"{role}.npz", **arrays)
    spec = {
        "data": {"train": "train.npz", "validation": "val.npz"},
        "model": {
            "input_shape": [a["x_train"].shape[1]],
            "layers": [
                {"type": "dense", "units": a["w0_1"].shape[0], "activation": "tanh"},
                {"type": "dense", "units": cfg["units"], "activation": cfg["output"]},
            ],
        },
        "loss": cfg["loss"],
        "optimizer": cfg["optimizer"],
        "metrics": ["accuracy"],
        "epochs": 3,
        "batch_size": 8,
        "shuffle": False,
    }
    if cfg["sample_weight"]:
        spec["data"]["sample_weight"] = "w"
    if cfg["class_weight"] is not None:
        spec["class_weight"] = cfg["class_weight"]
    path = tmp_path / "spec.yaml"
    path.write_text(json.dumps(spec))  # JSON is YAML
    return path


def _replay(tmp_path: Path, case: str, dtype: str, backend_name: str, *overrides: str):
    a = _arrays(case)
    session = prepare(
        _spec(tmp_path, case),
        [f"dtype={dtype}", f"backend={backend_name}", *overrides],
    )
    net = session.model.network
    names = sorted(
        net.params(), key=lambda k: (int(k.split(".")[1]), k.split(".")[2] != "kernel")
    )
    net.set_weights({name: a[f"w0_{i}"] for i, name in enumerate(names)})
    train, val, _ = make_batches(session)
    steps, epochs, weights = [], [], []
    for event in train_epochs(session.model, train, val, session.make_metrics, 3):
        if isinstance(event, StepEvent):
            steps.append((event.loss, event.logs["accuracy"]))
        elif isinstance(event, EpochEvent):
            epochs.append(event.logs)
            weights.append([net.get_weights()[n] for n in names])
        else:
            pytest.fail(f"training diverged: {event}")
    return session, np.array(steps), epochs, weights


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", CASES)
def test_weighted_training_tracks_keras(tmp_path, case, dtype, backend):
    tol, a = TOL[dtype], _arrays(case)
    _, steps, epochs, weights = _replay(tmp_path, case, dtype, backend.name)
    n_train, n_val = len(a["x_train"]), len(a["x_val"])

    assert len(steps) == len(a["step_loss"]) == 3 * 7
    np.testing.assert_allclose(steps[:, 0], a["step_loss"], rtol=tol["loss"])
    seen = np.minimum(8 * (np.arange(len(steps)) % 7 + 1), n_train)  # samples so far
    diff = np.abs(steps[:, 1] - a["step_accuracy"]) * seen
    assert diff.max() <= tol["samples"] + 1e-6, diff.max()

    for key in ("loss", "val_loss"):
        got = [e[key] for e in epochs]
        np.testing.assert_allclose(got, a[f"epoch_{key}"], rtol=tol["loss"])
    for key, n in (("accuracy", n_train), ("val_accuracy", n_val)):
        miss = np.abs(np.array([e[key] for e in epochs]) - a[f"epoch_{key}"]) * n
        assert miss.max() <= tol["samples"] + 1e-6, (key, miss)
    for i, got in enumerate(zip(*weights)):
        np.testing.assert_allclose(
            np.stack(got), a[f"weights_{i}"], rtol=0, atol=tol["weights"]
        )


def test_training_weights_are_the_ones_keras_was_given(tmp_path):
    """The per-sample training weights nncli derives (before any training)."""
    both = "sparse_class_and_sample_weight"
    session = prepare(_spec(tmp_path, both))
    np.testing.assert_array_equal(
        session.splits.train.weights, _arrays(both)["combined"]
    )
    # validation keeps its own sample weights: class weights never reach it
    np.testing.assert_array_equal(
        session.splits.validation.weights, _arrays(both)["w_val"]
    )

    balanced = "onehot_balanced"
    a = _arrays(balanced)
    session = prepare(_spec(tmp_path, balanced))
    want = a["balanced"][a["y_train"].argmax(axis=1)]
    np.testing.assert_allclose(session.splits.train.weights, want, rtol=1e-15)
    assert session.splits.validation.weights is None


@pytest.mark.parametrize("case", CASES)
def test_without_the_weights_the_result_differs(tmp_path, case):
    """The same training with the weights dropped misses Keras's numbers, so
    the comparison above would catch weights that are ignored."""
    cfg = META["cases"][case]["nncli"]
    drop = ["class_weight=null"] if cfg["class_weight"] else []
    drop += ["data.sample_weight=null"] if cfg["sample_weight"] else []
    _, steps, _, _ = _replay(tmp_path, case, "float64", "numpy", *drop)
    want = _arrays(case)["step_loss"]
    assert np.abs(steps[:, 0] / want - 1).max() > 1e-3
    assert META["framework"] == "keras" and META["version"].startswith("3.")
