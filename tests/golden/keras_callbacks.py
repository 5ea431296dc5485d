"""EarlyStopping and ReduceLROnPlateau decisions from Keras 3 on fixed logs.

A stand-in model (weights = the epoch number, an optimizer holding a plain
learning rate) receives `on_epoch_end` with fixed monitored sequences;
recorded per case: the epoch (1-based) after which Keras stops, the epoch
whose weights restore_best_weights restores, and the learning rate after
each epoch.
"""

from __future__ import annotations

import numpy as np
from common import Fixture

SEQUENCES = {
    "falls_then_flat": [
        1.0,
        0.8,
        0.7,
        0.7,
        0.69995,
        0.71,
        0.72,
        0.6,
        0.61,
        0.62,
        0.63,
        0.64,
        0.65,
        0.66,
    ],
    "noisy": [
        0.9,
        0.95,
        0.85,
        0.86,
        0.84,
        0.9,
        0.91,
        0.92,
        0.83,
        0.83,
        0.84,
        0.9,
        0.95,
        0.97,
    ],
    "rises": [0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2],
}
EARLY = {
    "default": {},
    "patience2": {"patience": 2},
    "patience3_delta": {"patience": 3, "min_delta": 0.02},
    "restore": {"patience": 2, "restore_best_weights": True},
    "baseline": {"patience": 2, "baseline": 0.75},
    "start_from": {"patience": 1, "start_from_epoch": 3},
    "max_mode": {"patience": 2, "mode": "max", "monitor": "val_accuracy"},
}
PLATEAU = {
    "default_patience2": {"patience": 2},
    "factor_cooldown": {"patience": 1, "factor": 0.5, "cooldown": 2},
    "min_lr": {"patience": 1, "factor": 0.2, "min_lr": 0.0003},
    "delta": {"patience": 2, "min_delta": 0.05, "factor": 0.5},
}


class _Optimizer:
    def __init__(self, lr):
        self.learning_rate = lr


class _Model:
    def __init__(self):
        self.epoch = 0
        self.stop_training = False
        self.optimizer = _Optimizer(0.01)
        self.metrics = []

    def get_weights(self):
        return [np.array([float(self.epoch)])]

    def set_weights(self, weights):
        self.restored = int(weights[0][0])


def generate() -> Fixture:
    import keras

    fixture = Fixture(
        "callbacks",
        {
            "epochs": "recorded 1-based (Keras passes 0-based epoch indices)",
            "stop": "stop_epoch 0 means training ran to the end of the sequence",
            "restore": "restored_epoch 0 means no weights were restored",
            "val_accuracy": "the max_mode cases watch val_accuracy = 1 - value",
        },
    )
    for seq_name, seq in SEQUENCES.items():
        for name, kwargs in EARLY.items():
            model = _Model()
            cb = keras.callbacks.EarlyStopping(**kwargs)
            cb.set_model(model)
            cb.on_train_begin()
            stop = 0
            for i, v in enumerate(seq):
                model.epoch = i + 1
                cb.on_epoch_end(i, {"val_loss": v, "val_accuracy": 1 - v})
                if model.stop_training:
                    stop = i + 1
                    break
            cb.on_train_end()
            cfg = {"type": "early_stopping", **kwargs}
            fixture.add(
                f"early_{name}_{seq_name}",
                cfg,
                f"keras.callbacks.EarlyStopping(**{kwargs})",
                values=np.array(seq),
                stop_epoch=np.array(stop),
                restored_epoch=np.array(getattr(model, "restored", 0)),
            )
        for name, kwargs in PLATEAU.items():
            model = _Model()
            cb = keras.callbacks.ReduceLROnPlateau(**kwargs)
            cb.set_model(model)
            cb.on_train_begin()
            lrs = []
            for i, v in enumerate(seq):
                cb.on_epoch_end(i, {"val_loss": v})
                lrs.append(float(model.optimizer.learning_rate))
            fixture.add(
                f"plateau_{name}_{seq_name}",
                {"type": "reduce_lr_on_plateau", **kwargs},
                f"keras.callbacks.ReduceLROnPlateau(**{kwargs})",
                values=np.array(seq),
                initial_lr=np.array(0.01),
                lr=np.array(lrs),
            )
    return fixture
