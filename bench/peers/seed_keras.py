"""The seed job in Keras 3 on JAX, end to end: moons, Dense 3-4-2-1
relu/sigmoid, RMSprop, BCE, batch 8, 5 epochs with validation, one line per
epoch, weights saved. Timed by bench/run.py from the shell, imports included."""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
from _moons import moons  # noqa: E402

keras.utils.set_random_seed(0)
(x, y), (xv, yv) = moons()
model = keras.Sequential(
    [
        keras.Input((2,)),
        keras.layers.Dense(3, activation="relu"),
        keras.layers.Dense(4, activation="relu"),
        keras.layers.Dense(2, activation="relu"),
        keras.layers.Dense(1, activation="sigmoid"),
    ]
)
model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x, y, batch_size=8, epochs=5, validation_data=(xv, yv), verbose=2)
model.save_weights("seed_keras.weights.h5")
