"""A training state saved after epoch k and restored into a fresh model trains
on to the same bytes as a run that never stopped (weights, optimizer slots,
shuffle order, dropout masks, callback state)."""

from __future__ import annotations

import numpy as np
import pytest

from nncli.data.batches import Batches
from nncli.engine.backend import Backend
from nncli.engine.losses import losses
from nncli.engine.network import Model, Sequential
from nncli.engine.optimizers import optimizers
from nncli.train import checkpoint
from nncli.train.callbacks import callbacks
from nncli.train.loop import EpochEvent, train_epochs

LAYERS = [
    {"type": "dense", "units": 8, "activation": "relu"},
    {"type": "dropout", "rate": 0.3},
    {"type": "dense", "units": 1, "activation": "sigmoid"},
]
OPTIMIZERS = [
    "adam",
    "nadam",
    "rmsprop",
    {"type": "sgd", "momentum": 0.9},
    "lion",
    {
        "type": "adamw",
        "learning_rate": {
            "type": "cosine_decay",
            "initial_learning_rate": 0.01,
            "decay_steps": 20,
            "warmup_target": 0.05,
            "warmup_steps": 10,
        },
    },
]


def _setup(optimizer):
    be = Backend.from_name("numpy")
    net = Sequential.from_config(LAYERS)
    net.build((2,), be, np.random.default_rng(1))
    model = Model(
        net,
        losses.create({"type": "binary_crossentropy"}),
        optimizers.create(
            optimizer if isinstance(optimizer, dict) else {"type": optimizer}
        ),
    )
    rng = np.random.default_rng(7)
    x = rng.normal(size=(96, 2))
    y = (x[:, :1] * x[:, 1:] > 0).astype(np.float64)
    shuffle = np.random.default_rng(11)
    batches = Batches(x, y, 16, be, shuffle=True, rng=shuffle)
    cbs = [
        callbacks.create(
            {
                "type": "early_stopping",
                "monitor": "loss",
                "patience": 50,
                "restore_best_weights": True,
            }
        ),
        callbacks.create(
            {
                "type": "reduce_lr_on_plateau",
                "monitor": "loss",
                "patience": 1,
                "factor": 0.5,
            }
        ),
    ]
    for cb in cbs:
        cb.bind({})
    return model, batches, shuffle, cbs


def _train(model, batches, cbs, epochs, start=0):
    for event in train_epochs(model, batches, None, dict, epochs, start_epoch=start):
        if isinstance(event, EpochEvent):
            for cb in cbs:
                d = cb.on_epoch_end(event.epoch, event.logs, model)
                if d.learning_rate is not None:
                    model.optimizer.learning_rate = d.learning_rate


@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=str)
def test_resumed_training_is_bit_identical(optimizer):
    model, batches, _, cbs = _setup(optimizer)
    _train(model, batches, cbs, 6)
    straight = model.network.get_weights()

    model, batches, shuffle, cbs = _setup(optimizer)
    _train(model, batches, cbs, 2)
    blob = checkpoint.to_bytes(checkpoint.capture(model, 2, shuffle, cbs))
    del model, batches, shuffle, cbs

    model, batches, shuffle, cbs = _setup(optimizer)
    state = checkpoint.from_bytes(blob)
    assert state.epoch == 2
    checkpoint.restore(state, model, shuffle, cbs)
    _train(model, batches, cbs, 6, start=state.epoch)
    resumed = model.network.get_weights()
    for k in straight:
        assert straight[k].tobytes() == resumed[k].tobytes(), k
    assert checkpoint.to_bytes(checkpoint.capture(model, 6, shuffle, cbs))


def test_same_state_gives_the_same_bytes():
    model, _, shuffle, cbs = _setup("adam")
    a = checkpoint.to_bytes(checkpoint.capture(model, 0, shuffle, cbs))
    b = checkpoint.to_bytes(checkpoint.capture(model, 0, shuffle, cbs))
    assert a == b


def test_a_weights_file_is_not_a_checkpoint():
    from safetensors.numpy import save

    with pytest.raises(ValueError, match="no training state"):
        checkpoint.from_bytes(save({"w": np.zeros(2)}))
    with pytest.raises(ValueError, match="not an nncli checkpoint"):
        checkpoint.from_bytes(b"garbage")


def test_restore_refuses_another_architecture():
    model, _, shuffle, cbs = _setup("adam")
    state = checkpoint.from_bytes(
        checkpoint.to_bytes(checkpoint.capture(model, 1, shuffle, cbs))
    )
    be = Backend.from_name("numpy")
    other = Sequential.from_config([{"type": "dense", "units": 1}])
    other.build((2,), be, np.random.default_rng(0))
    small = Model(
        other, losses.create({"type": "mse"}), optimizers.create({"type": "adam"})
    )
    with pytest.raises(ValueError, match="does not match the model"):
        checkpoint.restore(state, small, shuffle, [])
