"""Reference: Keras trains with class weights and sample weights.

Small dense networks on fixed random data, `fit(batch_size=8, shuffle=False)`
from given initial weights for 3 epochs; 50 training samples, so every epoch
ends with a partial batch of 2 (the epoch loss weights each batch by its size,
and a weighted batch loss is sum(w * l) / batch_size, never / sum(w)).
Recorded: the running loss and accuracy after every step, the epoch logs
(validation included) and the weights after every epoch.

Cases:
- sparse_class_weight: 3 classes, integer labels, class_weight={0: 1, 1: 3,
  2: 0.5}, SGD; validation unweighted (class weights never reach it).
- binary_sample_weight: one sigmoid unit, binary cross-entropy, a weight per
  sample (some 0), Adam; validation data carries its own weights, so
  val_loss is weighted.
- sparse_class_and_sample_weight: both. Keras 3 refuses class_weight together
  with sample_weight, so the generator passes their product (Keras's own
  `class_weight_to_sample_weights` times the sample weights) as sample_weight,
  which is what tf.keras 2 did and what nncli does.
- onehot_balanced: one-hot labels with categorical cross-entropy and
  class_weight n / (n_classes * count_c) computed here with numpy
  (scikit-learn's "balanced"; Keras has no such option); nncli is given
  `class_weight: balanced`. Keras reads a one-hot row's class by argmax.

Metrics are Keras `metrics` (unweighted), never `weighted_metrics`.
"""

from __future__ import annotations

import numpy as np
from common import Fixture

N_TRAIN, N_VAL, FEATURES, HIDDEN = 50, 20, 3, 5
BATCH, EPOCHS = 8, 3


def _data(rng: np.random.Generator, classes: int) -> dict[str, np.ndarray]:
    x = rng.normal(size=(N_TRAIN + N_VAL, FEATURES))  # (n, 3)
    score = x @ rng.normal(size=(FEATURES, classes)) + 0.3 * rng.normal(
        size=(len(x), classes)
    )
    y = score.argmax(axis=1) if classes > 1 else (score[:, 0] > 0.4).astype(float)
    w = rng.uniform(0.0, 2.0, size=len(x))  # (n,)
    w[::7] = 0.0  # zero weights are allowed and must drop out
    return {
        "x_train": x[:N_TRAIN],
        "y_train": y[:N_TRAIN],
        "w_train": w[:N_TRAIN],
        "x_val": x[N_TRAIN:],
        "y_val": y[N_TRAIN:],
        "w_val": w[N_TRAIN:],
    }


def _initial(rng: np.random.Generator, units: int) -> list[np.ndarray]:
    """Keras get_weights order: kernel, bias of each Dense layer."""
    return [
        rng.normal(scale=0.5, size=(FEATURES, HIDDEN)),
        rng.normal(scale=0.1, size=(HIDDEN,)),
        rng.normal(scale=0.5, size=(HIDDEN, units)),
        rng.normal(scale=0.1, size=(units,)),
    ]


def _fit(keras, w0, units, output, loss, optimizer, data, fit_kwargs, val_weighted):
    model = keras.Sequential(
        [
            keras.Input((FEATURES,)),
            keras.layers.Dense(HIDDEN, activation="tanh"),
            keras.layers.Dense(units, activation=output),
        ]
    )
    model.set_weights(w0)
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    steps: dict[str, list[float]] = {"loss": [], "accuracy": []}
    epoch_weights: list[list[np.ndarray]] = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            for k in steps:
                steps[k].append(float(logs[k]))

        def on_epoch_end(self, epoch, logs=None):
            epoch_weights.append([np.array(w) for w in self.model.get_weights()])

    val = (data["x_val"], data["y_val"])
    if val_weighted:
        val = (*val, data["w_val"])
    history = model.fit(
        data["x_train"],
        data["y_train"],
        batch_size=BATCH,
        epochs=EPOCHS,
        shuffle=False,
        validation_data=val,
        callbacks=[Record()],
        verbose=0,
        **fit_kwargs,
    )
    arrays = {f"step_{k}": np.array(v) for k, v in steps.items()}
    arrays.update({f"epoch_{k}": np.array(v) for k, v in history.history.items()})
    for i in range(len(w0)):
        arrays[f"weights_{i}"] = np.stack([w[i] for w in epoch_weights])
    return arrays


def generate() -> Fixture:
    import keras
    from keras.src.trainers.data_adapters.data_adapter_utils import (
        class_weight_to_sample_weights,
    )

    fixture = Fixture(
        "weights",
        {
            "model": f"Dense({HIDDEN}, tanh) -> Dense(units, output activation), "
            f"{FEATURES} features, initial weights w0_<i> in get_weights order",
            "fit": f"batch_size={BATCH}, epochs={EPOCHS}, shuffle=False, "
            f"{N_TRAIN} training and {N_VAL} validation samples",
            "reduction": "sum_over_batch_size: sum(w * l) / batch_size per batch; "
            "the logged loss is the batch-size-weighted mean over the epoch",
            "class_weight": "training loss only; validation and metrics unweighted",
            "sample_weight": "training loss, and the validation loss when the "
            "validation data carries weights; metrics unweighted",
            "combined": "Keras 3 refuses class_weight with sample_weight; the "
            "reference multiplies them (tf.keras 2's rule) and passes the product",
            "keras loss": "cross-entropies on probabilities (Keras on JAX clips at "
            "1e-7; nncli fuses the output activation: equal while no probability "
            "is within 1e-7 of 0 or 1)",
        },
    )
    rng = np.random.default_rng(20260601)

    def add(name, nncli, keras_call, data, w0, optimizer, fit_kwargs, **extra):
        arrays = _fit(
            keras,
            w0,
            nncli["units"],
            nncli["output"],
            nncli["loss"],
            optimizer,
            data,
            fit_kwargs,
            nncli["validation_weighted"],
        )
        if not nncli["sample_weight"]:
            data = {k: v for k, v in data.items() if not k.startswith("w_")}
        fixture.add(
            name,
            nncli,
            keras_call,
            **data,
            **{f"w0_{i}": w for i, w in enumerate(w0)},
            **extra,
            **arrays,
        )

    def cfg(loss, optimizer, output, units, class_weight, weighted):
        return {
            "loss": loss,
            "optimizer": optimizer,
            "output": output,
            "units": units,
            "class_weight": class_weight,
            "sample_weight": weighted,
            "validation_weighted": weighted,
        }

    sce = "sparse_categorical_crossentropy"
    cw = {0: 1.0, 1: 3.0, 2: 0.5}
    add(
        "sparse_class_weight",
        cfg(sce, {"type": "sgd", "learning_rate": 0.1}, "softmax", 3, _keys(cw), False),
        "fit(x, y, class_weight={0: 1, 1: 3, 2: 0.5}, validation_data=(xv, yv)) "
        "with SGD(0.1)",
        _data(rng, 3),
        _initial(rng, 3),
        keras.optimizers.SGD(0.1),
        {"class_weight": cw},
    )

    data = _data(rng, 1)
    add(
        "binary_sample_weight",
        cfg(
            "binary_crossentropy",
            {"type": "adam", "learning_rate": 0.05},
            "sigmoid",
            1,
            None,
            True,
        ),
        "fit(x, y, sample_weight=w, validation_data=(xv, yv, wv)) with Adam(0.05)",
        data,
        _initial(rng, 1),
        keras.optimizers.Adam(0.05),
        {"sample_weight": data["w_train"]},
    )

    data = _data(rng, 3)
    cw = {0: 2.0, 2: 0.25}  # class 1 keeps weight 1
    combined = data["w_train"] * class_weight_to_sample_weights(data["y_train"], cw)
    add(
        "sparse_class_and_sample_weight",
        cfg(
            sce,
            {"type": "sgd", "learning_rate": 0.2, "momentum": 0.5},
            "softmax",
            3,
            _keys(cw),
            True,
        ),
        "fit(x, y, sample_weight=w * class_weight_to_sample_weights(y, {0: 2, "
        "2: 0.25}), validation_data=(xv, yv, wv)) with SGD(0.2, momentum=0.5)",
        data,
        _initial(rng, 3),
        keras.optimizers.SGD(0.2, momentum=0.5),
        {"sample_weight": combined},
        combined=combined,
    )

    data = _data(rng, 3)
    counts = np.bincount(data["y_train"].astype(int), minlength=3)
    balanced = {c: N_TRAIN / (3 * counts[c]) for c in range(3)}
    data.update({k: np.eye(3)[data[k].astype(int)] for k in ("y_train", "y_val")})
    add(
        "onehot_balanced",
        cfg(
            "categorical_crossentropy",
            {"type": "rmsprop", "learning_rate": 0.01},
            "softmax",
            3,
            "balanced",
            False,
        ),
        "fit(x, onehot(y), class_weight={c: n / (3 * count_c)}, "
        "validation_data=(xv, onehot(yv))) with RMSprop(0.01)",
        data,
        _initial(rng, 3),
        keras.optimizers.RMSprop(0.01),
        {"class_weight": balanced},
        balanced=np.array([balanced[c] for c in range(3)]),
    )
    return fixture


def _keys(class_weight: dict[int, float]) -> dict[str, float]:
    """The spec's form: YAML keys are text."""
    return {str(k): v for k, v in class_weight.items()}
