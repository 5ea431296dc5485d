"""End-to-end reference: the seed example (specs/moons.yaml) trained by Keras.

nncli loads the spec and its data (float64, no shuffling so both sides see
the batches in the same order) and draws the initial weights; Keras builds the
same Dense 3-4-2-1 network, starts from those weights, and trains with
`fit(batch_size=8, shuffle=False)` under RMSprop (Keras defaults) and binary
cross-entropy for 5 epochs, i.e. 500 steps. Recorded: the running epoch loss
and accuracy after every step (what a progress bar shows), the epoch logs
(including validation) and the weights after every epoch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from common import Fixture

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "specs" / "moons.yaml"
OVERRIDES = ["dtype=float64", "shuffle=false"]


def generate() -> Fixture:
    import keras

    from nncli.train.session import prepare

    session = prepare(SPEC, OVERRIDES)
    r = session.resolved
    train, val = session.splits.train, session.splits.validation
    w0 = session.model.network.get_weights()
    fixture = Fixture(
        "training",
        {
            "spec": "specs/moons.yaml with --set " + " --set ".join(OVERRIDES),
            "initial weights": "nncli's, from the spec's seed, set into Keras",
            "data": "nncli's moons split (x_train, y_train, x_val, y_val), unshuffled",
            "steps": "running means after each batch, as Keras's logs give them",
            "keras loss": "binary_crossentropy on sigmoid probabilities (Keras on "
            "JAX clips at 1e-7; nncli fuses sigmoid + BCE on the logits: equal "
            "while no probability is within 1e-7 of 0 or 1)",
        },
    )
    fixture.arrays.update(
        {
            "x_train": train.x,
            "y_train": train.y,
            "x_val": val.x,
            "y_val": val.y,
        }
    )
    fixture.arrays.update({f"w0__{k}": v for k, v in w0.items()})

    layers = [keras.Input(tuple(r["model"]["input_shape"]))]
    for cfg in r["model"]["layers"]:
        layers.append(
            keras.layers.Dense(cfg["units"], activation=cfg["activation"]["type"])
        )
    model = keras.Sequential(layers)
    model.set_weights([w0[k] for k in sorted_names(w0)])
    model.compile(
        optimizer=keras.optimizers.RMSprop(),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )

    steps: dict[str, list[float]] = {"loss": [], "accuracy": []}
    epoch_weights: list[list[np.ndarray]] = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            for k in steps:
                steps[k].append(float(logs[k]))

        def on_epoch_end(self, epoch, logs=None):
            epoch_weights.append([np.array(w) for w in self.model.get_weights()])

    history = model.fit(
        train.x,
        train.y,
        batch_size=r["batch_size"],
        epochs=r["epochs"],
        shuffle=False,
        validation_data=(val.x, val.y),
        callbacks=[Record()],
        verbose=0,
    )
    arrays = {f"step_{k}": np.array(v) for k, v in steps.items()}
    arrays.update({f"epoch_{k}": np.array(v) for k, v in history.history.items()})
    for i, name in enumerate(sorted_names(w0)):
        arrays[f"weights__{name}"] = np.stack([w[i] for w in epoch_weights])
    fixture.add(
        "moons_rmsprop_bce",
        {"spec": "specs/moons.yaml", "overrides": OVERRIDES},
        "keras.Sequential(Dense 3-4-2-1).fit(batch_size=8, epochs=5, shuffle=False)"
        " with RMSprop() and binary_crossentropy",
        **arrays,
    )
    return fixture


def sorted_names(weights: dict) -> list[str]:
    """Parameter names in Keras's get_weights order: by layer, kernel before bias."""
    return sorted(
        weights, key=lambda k: (int(k.split(".")[1]), k.split(".")[2] != "kernel")
    )
