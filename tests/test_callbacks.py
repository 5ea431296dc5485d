"""Callbacks make Keras 3's decisions (tests/fixtures/golden/keras_callbacks.*,
made by tests/golden/keras_callbacks.py), and resume exactly from their state.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import numpy as np
import pytest

from nncli.train.callbacks import callbacks, direction

sys.path.insert(0, str(Path(__file__).parent / "engine"))
from helpers import load_keras_golden  # noqa: E402

ARR, META = load_keras_golden("callbacks")


class _Network:
    def __init__(self):
        self.epoch = 0

    def get_weights(self):
        return {"w": np.array([float(self.epoch)])}


class _Optimizer:
    def __init__(self, lr):
        self.learning_rate = lr


class _Model:
    def __init__(self, lr=0.01):
        self.network, self.optimizer = _Network(), _Optimizer(lr)


def _logs(value: float) -> dict[str, float]:
    return {"val_loss": value, "val_accuracy": 1 - value, "loss": 0.5}


def _run(cfg, values, model, start=0, cb=None):
    """Feed epochs start+1.. to a callback; (callback, stop epoch, lrs)."""
    cb = cb or callbacks.create(cfg)
    cb.bind({"accuracy": "up"})
    lrs = []
    for i in range(start, len(values)):
        model.network.epoch = i + 1
        decision = cb.on_epoch_end(i + 1, _logs(values[i]), model)
        if decision.learning_rate is not None:
            model.optimizer.learning_rate = decision.learning_rate
        lrs.append(model.optimizer.learning_rate)
        if decision.stop:
            return cb, i + 1, lrs
    return cb, 0, lrs


@pytest.mark.parametrize("case", sorted(META["cases"]))
def test_decisions_match_keras(case):
    cfg = META["cases"][case]["nncli"]
    values = ARR[f"{case}__values"]
    model = _Model()
    cb, stop, lrs = _run(cfg, values, model)
    if cfg["type"] == "early_stopping":
        assert stop == int(ARR[f"{case}__stop_epoch"])
        restored = cb.final_weights()
        want = int(ARR[f"{case}__restored_epoch"])
        assert (restored[0] if restored else 0) == want
        if restored:
            assert restored[1]["w"][0] == want  # those epoch's weights, not later
    else:
        np.testing.assert_allclose(lrs, ARR[f"{case}__lr"], rtol=1e-12)


@pytest.mark.parametrize("case", sorted(META["cases"]))
def test_resuming_from_state_gives_the_same_decisions(case):
    cfg = META["cases"][case]["nncli"]
    values = ARR[f"{case}__values"]
    _, stop, lrs = _run(cfg, values, _Model())
    split = 4
    model = _Model()
    first, early_stop, first_lrs = _run(cfg, values[:split], model)
    if early_stop:
        assert early_stop == stop
        return
    state = copy.deepcopy(first.state_dict())
    resumed = callbacks.create(cfg)
    resumed.load_state_dict(state)
    _, stop2, rest = _run(cfg, values, model, start=split, cb=resumed)
    assert stop2 == stop and first_lrs + rest == lrs


def test_direction_follows_mode_metric_and_name():
    assert direction("val_loss", "auto", {}) == "min"
    assert direction("val_accuracy", "auto", {"accuracy": "up"}) == "max"
    assert direction("mean_absolute_error", "auto", {}) == "min"
    assert direction("val_auc", "min", {"auc": "up"}) == "min"
    with pytest.raises(ValueError, match="set mode: min or max"):
        direction("val_custom", "auto", {})


def test_every_callback_has_a_keras_case_or_is_terminate_on_nan():
    covered = {c["nncli"]["type"] for c in META["cases"].values()}
    untested = set(callbacks.names()) - covered
    assert untested == {"model_checkpoint", "terminate_on_nan"}


def test_model_checkpoint_saves_periodic_and_best():
    cb = callbacks.create({"type": "model_checkpoint", "every_epochs": 2})
    cb.bind({})
    model = _Model()
    saves = [
        cb.on_epoch_end(e, _logs(v), model).save
        for e, v in enumerate([0.9, 0.8, 0.85, 0.7, 0.75, 0.72], 1)
    ]
    assert saves == [
        [],
        ["epoch-0002", "best"],
        [],
        ["epoch-0004", "best"],
        [],
        ["epoch-0006"],
    ]
    best_only = callbacks.create({"type": "model_checkpoint", "save_best_only": True})
    best_only.bind({})
    got = [
        best_only.on_epoch_end(e, _logs(v), model).save
        for e, v in enumerate([0.9, 0.95, 0.8], 1)
    ]
    assert got == [["best"], [], ["best"]]


@pytest.mark.parametrize(
    "case", [c for c in sorted(META["cases"]) if c.startswith("early_patience3_delta")]
)
def test_early_stopping_takes_the_absolute_min_delta(case):
    """Keras uses abs(min_delta): a negative one is valid and decides the same."""
    cfg = META["cases"][case]["nncli"]
    negative = {**cfg, "min_delta": -cfg["min_delta"]}
    checked = callbacks.get("early_stopping").Config.model_validate(negative)
    _, stop, _ = _run(checked.model_dump(), ARR[f"{case}__values"], _Model())
    assert stop == int(ARR[f"{case}__stop_epoch"])
