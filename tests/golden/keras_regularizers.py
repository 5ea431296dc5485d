"""Golden regularizers from Keras 3: penalties, and a regularized model's loss.

Penalty cases: `keras.regularizers.<Class>(**options)(w)` and its `jax.grad`
on fixed weights (kept away from 0, where JAX's d|w|/dw is 1 but nncli, like
Keras on TensorFlow and PyTorch, uses sign(0) = 0).

Model cases: a small Keras model with kernel_regularizer, bias_regularizer and
activity_regularizer on its Dense layers. `loss` and `grad_<param>` are the
training loss and its gradient exactly as Keras's JAX trainer computes them
(`jax.value_and_grad` of `model.compute_loss_and_updates(..., training=True)`:
data loss + the layers' losses, activity penalties divided by the batch size);
`eval_loss` is `model.evaluate(x, y, batch_size=2)` on 5 samples (batches of
2, 2, 1: Keras weights each batch's loss by its size).
"""

from __future__ import annotations

import numpy as np
from common import Fixture

KERAS_CLASS = {"l1": "L1", "l2": "L2", "l1_l2": "L1L2"}

PENALTIES: list[tuple[str, dict]] = [
    ("l1", {"type": "l1"}),
    ("l1_0.05", {"type": "l1", "l1": 0.05}),
    ("l2", {"type": "l2"}),
    ("l2_0.3", {"type": "l2", "l2": 0.3}),
    ("l1_l2", {"type": "l1_l2"}),
    ("l1_l2_both", {"type": "l1_l2", "l1": 0.02, "l2": 0.04}),
    ("l1_l2_only_l2", {"type": "l1_l2", "l2": 0.5}),
]

# (case name, nncli layer configs, nncli loss, input size)
MODELS: list[tuple[str, list[dict], str, int]] = [
    (
        "model_mse",
        [
            {
                "type": "dense",
                "units": 4,
                "activation": "tanh",
                "kernel_regularizer": {"type": "l2", "l2": 0.05},
                "bias_regularizer": {"type": "l1", "l1": 0.02},
                "activity_regularizer": {"type": "l1_l2", "l1": 0.01, "l2": 0.03},
            },
            {
                "type": "dense",
                "units": 2,
                "kernel_regularizer": {"type": "l1_l2", "l1": 0.01, "l2": 0.02},
                "activity_regularizer": {"type": "l2", "l2": 0.1},
            },
        ],
        "mean_squared_error",
        3,
    ),
    (
        # the sigmoid head fuses with the loss in nncli: the activity gradient
        # must pass through the sigmoid there
        "model_sigmoid_bce",
        [
            {
                "type": "dense",
                "units": 3,
                "activation": "relu",
                "activity_regularizer": {"type": "l1", "l1": 0.05},
            },
            {
                "type": "dense",
                "units": 1,
                "activation": "sigmoid",
                "bias_regularizer": {"type": "l2", "l2": 0.2},
                "activity_regularizer": {"type": "l1_l2", "l1": 0.1, "l2": 0.3},
            },
        ],
        "binary_crossentropy",
        3,
    ),
]


def _regularizer(keras, cfg: dict | None):
    if cfg is None:
        return None
    options = {k: v for k, v in cfg.items() if k != "type"}
    return getattr(keras.regularizers, KERAS_CLASS[cfg["type"]])(**options)


def _keras_model(keras, layer_cfgs: list[dict], n_in: int):
    dense = [
        keras.layers.Dense(
            cfg["units"],
            activation=cfg.get("activation"),
            kernel_regularizer=_regularizer(keras, cfg.get("kernel_regularizer")),
            bias_regularizer=_regularizer(keras, cfg.get("bias_regularizer")),
            activity_regularizer=_regularizer(keras, cfg.get("activity_regularizer")),
        )
        for cfg in layer_cfgs
    ]
    return keras.Sequential([keras.Input((n_in,)), *dense])


def _model_case(keras, fixture: Fixture, name, layer_cfgs, loss, n_in, seed) -> None:
    import jax

    rng = np.random.default_rng(seed)
    model = _keras_model(keras, layer_cfgs, n_in)
    model.compile(optimizer=keras.optimizers.SGD(), loss=loss)
    w0, sizes = {}, [n_in] + [cfg["units"] for cfg in layer_cfgs]
    for i, cfg in enumerate(layer_cfgs):
        w0[f"layers.{i}.kernel"] = rng.normal(0, 0.7, (sizes[i], cfg["units"]))
        w0[f"layers.{i}.bias"] = rng.normal(0, 0.3, (cfg["units"],))
    model.set_weights(list(w0.values()))
    x = rng.normal(size=(5, n_in))
    units = layer_cfgs[-1]["units"]
    if loss == "binary_crossentropy":
        y = (rng.random((5, units)) > 0.5).astype(np.float64)
    else:
        y = rng.normal(size=(5, units))
    model.optimizer.build(model.trainable_variables)
    state = [
        [v.value for v in vs]
        for vs in (
            model.non_trainable_variables,
            model.metrics_variables,
            model.optimizer.variables,
        )
    ]

    def training_loss(trainable):
        loss_value, _ = model.compute_loss_and_updates(
            trainable, state[0], state[1], x, y, None, True, state[2]
        )
        return loss_value

    trainable = [v.value for v in model.trainable_variables]
    value, grads = jax.value_and_grad(training_loss)(trainable)
    eval_loss = model.evaluate(x, y, batch_size=2, verbose=0)
    fixture.add(
        name,
        {
            "type": "sequential",
            "input_shape": [n_in],
            "layers": layer_cfgs,
            "loss": {"type": loss},
        },
        "keras.Sequential(Dense layers with kernel/bias/activity_regularizer); "
        f"compile(loss={loss!r}); jax.value_and_grad(compute_loss_and_updates, "
        "training=True); evaluate(batch_size=2)",
        x=x,
        y=y,
        loss=np.float64(value),
        eval_loss=np.float64(eval_loss),
        **{f"w0_{k}": v for k, v in w0.items()},
        **{f"grad_{k}": np.asarray(g, np.float64) for k, g in zip(w0, grads)},
    )


def generate() -> Fixture:
    import jax
    import keras

    rng = np.random.default_rng(3)
    w = rng.uniform(0.1, 2.0, (4, 3)) * rng.choice([-1.0, 1.0], (4, 3))
    fixture = Fixture(
        kind="regularizers",
        conventions={
            "penalties": "l1 sum|w|, l2 sum w^2 (no 1/2), l1_l2 both; grads by "
            "jax.grad; w kept away from 0 (JAX: d|w|/dw = 1 at 0, nncli 0)",
            "activity": "Keras 3 adds activity_regularizer(y) / batch_size for "
            "each layer output y (y after the layer's activation)",
            "model loss": "jax.value_and_grad of model.compute_loss_and_updates("
            "..., training=True): data loss + activity + weight penalties",
            "eval_loss": "model.evaluate(batch_size=2) on 5 samples: batch "
            "losses (incl. penalties) averaged with the batch sizes as weights",
        },
        arrays={"w": w},
    )
    for name, cfg in PENALTIES:
        reg = _regularizer(keras, cfg)
        value, grad = jax.value_and_grad(lambda t, reg=reg: reg(t))(w)
        options = ", ".join(f"{k}={v!r}" for k, v in cfg.items() if k != "type")
        fixture.add(
            name,
            cfg,
            f"keras.regularizers.{KERAS_CLASS[cfg['type']]}({options})(w); jax.grad",
            penalty=np.float64(value),
            grad=np.asarray(grad, np.float64),
        )
    for seed, (name, layer_cfgs, loss, n_in) in enumerate(MODELS):
        _model_case(keras, fixture, name, layer_cfgs, loss, n_in, seed)
    return fixture
