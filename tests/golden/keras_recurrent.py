"""Recurrent, normalisation and embedding layers against Keras 3.

Per case: a fixed input `x` (batch 3, BatchNormalization 8; int64 ids for
the embedding), the
layer's weights (nncli names: a Bidirectional's are forward_<w>, backward_<w>),
BatchNormalization's moving statistics, and an upstream gradient `dy`.
Keras's layer runs through `stateless_call` under `jax.vjp` (float64) at
inference, giving y, dx and the parameter gradients; BatchNormalization also
in training mode (`train_y`, `train_dx`, `train_grad_*`) with the moving
statistics after that call (`train_moving_mean`, `train_moving_variance`).
Recorded too: `compute_output_shape`, `count_params` and the non-trainable
count, and one SGD training step (train_on_batch, learning rate 0.1, mse) of
Dense(features) -> layer -> Flatten -> Dense(2) (Embedding -> Flatten ->
Dense(2) for the embedding), weights before and after by nncli name,
BatchNormalization's moving statistics included. `model_<spec>` cases record
the per-layer output shapes and parameter counts of the example specs.
"""

from __future__ import annotations

import numpy as np
from common import Fixture

K = "keras.layers."
# (name, nncli config, Keras call, input shape without the batch axis)
CASES: list[tuple[str, dict, str, tuple[int, ...]]] = [
    ("simple_rnn", {"type": "simple_rnn", "units": 3}, "SimpleRNN(3)", (5, 2)),
    (
        "simple_rnn_sequences_backwards_relu",
        {
            "type": "simple_rnn",
            "units": 4,
            "return_sequences": True,
            "go_backwards": True,
            "activation": "relu",
        },
        "SimpleRNN(4, return_sequences=True, go_backwards=True, activation='relu')",
        (4, 3),
    ),
    ("lstm", {"type": "lstm", "units": 3}, "LSTM(3)", (5, 2)),
    (
        "lstm_sequences",
        {"type": "lstm", "units": 4, "return_sequences": True},
        "LSTM(4, return_sequences=True)",
        (4, 3),
    ),
    (
        "lstm_backwards_no_bias",
        {"type": "lstm", "units": 2, "go_backwards": True, "use_bias": False},
        "LSTM(2, go_backwards=True, use_bias=False)",
        (6, 2),
    ),
    (
        "lstm_hard_sigmoid_elu",
        {
            "type": "lstm",
            "units": 3,
            "recurrent_activation": "hard_sigmoid",
            "activation": "elu",
            "unit_forget_bias": False,
        },
        "LSTM(3, recurrent_activation='hard_sigmoid', activation='elu', "
        "unit_forget_bias=False)",
        (4, 2),
    ),
    ("gru", {"type": "gru", "units": 3}, "GRU(3)", (5, 2)),
    (
        "gru_sequences",
        {"type": "gru", "units": 4, "return_sequences": True},
        "GRU(4, return_sequences=True)",
        (4, 3),
    ),
    (
        "gru_reset_before",
        {"type": "gru", "units": 3, "reset_after": False, "return_sequences": True},
        "GRU(3, reset_after=False, return_sequences=True)",
        (4, 2),
    ),
    (
        "gru_backwards_no_bias",
        {"type": "gru", "units": 2, "go_backwards": True, "use_bias": False},
        "GRU(2, go_backwards=True, use_bias=False)",
        (5, 3),
    ),
    (
        "bidirectional_lstm_sequences",
        {
            "type": "bidirectional",
            "layer": {"type": "lstm", "units": 3, "return_sequences": True},
        },
        "Bidirectional(keras.layers.LSTM(3, return_sequences=True))",
        (4, 2),
    ),
    (
        "bidirectional_gru_sum",
        {
            "type": "bidirectional",
            "layer": {"type": "gru", "units": 3},
            "merge_mode": "sum",
        },
        "Bidirectional(keras.layers.GRU(3), merge_mode='sum')",
        (4, 2),
    ),
    (
        "bidirectional_simple_rnn_mul",
        {
            "type": "bidirectional",
            "layer": {"type": "simple_rnn", "units": 2, "return_sequences": True},
            "merge_mode": "mul",
        },
        "Bidirectional(keras.layers.SimpleRNN(2, return_sequences=True), "
        "merge_mode='mul')",
        (3, 2),
    ),
    (
        "bidirectional_lstm_ave",
        {
            "type": "bidirectional",
            "layer": {"type": "lstm", "units": 2},
            "merge_mode": "ave",
        },
        "Bidirectional(keras.layers.LSTM(2), merge_mode='ave')",
        (3, 2),
    ),
    (
        "batch_normalization",
        {"type": "batch_normalization"},
        "BatchNormalization()",
        (4,),
    ),
    (
        "batch_normalization_sequence",
        {"type": "batch_normalization", "momentum": 0.9, "epsilon": 0.01},
        "BatchNormalization(momentum=0.9, epsilon=0.01)",
        (3, 2),
    ),
    (
        "batch_normalization_axis1_no_scale",
        {"type": "batch_normalization", "axis": 1, "scale": False},
        "BatchNormalization(axis=1, scale=False)",
        (3, 2),
    ),
    (
        "layer_normalization",
        {"type": "layer_normalization"},
        "LayerNormalization()",
        (5,),
    ),
    (
        "layer_normalization_sequence_no_center",
        {"type": "layer_normalization", "center": False, "epsilon": 1e-5},
        "LayerNormalization(center=False, epsilon=1e-5)",
        (3, 4),
    ),
    (
        "layer_normalization_two_axes",
        {"type": "layer_normalization", "axis": [1, 2]},
        "LayerNormalization(axis=[1, 2])",
        (3, 2),
    ),
    (
        "embedding",
        {"type": "embedding", "input_dim": 7, "output_dim": 3},
        "Embedding(7, 3)",
        (5,),
    ),
]
STEP_LR = 0.1

# Recurrent layers under a padding mask (B=3, T=5): padding at the end, at the
# start, and holes. Per case: the layer call, its input features, and a model
# Embedding(6, F, mask_zero=True) -> ... whose SGD step checks that the mask
# travels through Sequential (ids are 0 exactly where the mask is false).
MASK = np.array(
    [[1, 1, 1, 0, 0], [0, 0, 1, 1, 1], [1, 0, 1, 1, 0]], dtype=bool
)  # (batch, timesteps)
# (name, nncli config, Keras call, features, step model after the embedding)
MASKED_CASES: list[tuple[str, dict, str, int, list[tuple[dict, str]]]] = [
    (
        "lstm_masked",
        {"type": "lstm", "units": 3},
        "LSTM(3)",
        2,
        [({"type": "lstm", "units": 3}, "LSTM(3)")],
    ),
    (
        "lstm_masked_elu_sequences",
        {"type": "lstm", "units": 3, "activation": "elu", "return_sequences": True},
        "LSTM(3, activation='elu', return_sequences=True)",
        2,
        [
            ({"type": "layer_normalization"}, "LayerNormalization()"),
            (
                {
                    "type": "lstm",
                    "units": 3,
                    "activation": "elu",
                    "return_sequences": True,
                },
                "LSTM(3, activation='elu', return_sequences=True)",
            ),
            ({"type": "simple_rnn", "units": 2}, "SimpleRNN(2)"),
        ],
    ),
    (
        "gru_masked_sequences_backwards",
        {"type": "gru", "units": 3, "return_sequences": True, "go_backwards": True},
        "GRU(3, return_sequences=True, go_backwards=True)",
        2,
        [
            ({"type": "dense", "units": 3}, "Dense(3)"),
            (
                {
                    "type": "gru",
                    "units": 3,
                    "return_sequences": True,
                    "go_backwards": True,
                },
                "GRU(3, return_sequences=True, go_backwards=True)",
            ),
            ({"type": "lstm", "units": 2}, "LSTM(2)"),
        ],
    ),
    (
        "gru_reset_before_masked",
        {"type": "gru", "units": 2, "reset_after": False},
        "GRU(2, reset_after=False)",
        3,
        [
            ({"type": "activation", "activation": "tanh"}, "Activation('tanh')"),
            (
                {"type": "gru", "units": 2, "reset_after": False},
                "GRU(2, reset_after=False)",
            ),
        ],
    ),
    (
        "simple_rnn_masked_sequences",
        {"type": "simple_rnn", "units": 3, "return_sequences": True},
        "SimpleRNN(3, return_sequences=True)",
        2,
        [
            (
                {"type": "simple_rnn", "units": 3, "return_sequences": True},
                "SimpleRNN(3, return_sequences=True)",
            ),
            ({"type": "gru", "units": 2}, "GRU(2)"),
        ],
    ),
    (
        "bidirectional_lstm_masked_sequences",
        {
            "type": "bidirectional",
            "layer": {"type": "lstm", "units": 2, "return_sequences": True},
        },
        "Bidirectional(keras.layers.LSTM(2, return_sequences=True))",
        2,
        [
            (
                {
                    "type": "bidirectional",
                    "layer": {"type": "lstm", "units": 2, "return_sequences": True},
                },
                "Bidirectional(keras.layers.LSTM(2, return_sequences=True))",
            ),
            (
                {"type": "bidirectional", "layer": {"type": "gru", "units": 2}},
                "Bidirectional(keras.layers.GRU(2))",
            ),
        ],
    ),
]

# The example specs' networks, layer by layer, in Keras.
MODELS = {
    "elnino_lstm": (
        (12, 1),
        ["LSTM(32)", "Dense(1)"],
    ),
    "tokens_gru": (
        (20,),
        ["Embedding(50, 8)", "GRU(16)", "Dense(1, activation='sigmoid')"],
    ),
    "sequence_layers": (
        (10, 4),
        [
            "Bidirectional(keras.layers.LSTM(8, return_sequences=True))",
            "LayerNormalization()",
            "GRU(6, return_sequences=True)",
            "SimpleRNN(5)",
            "BatchNormalization()",
            "Dense(2)",
        ],
    ),
}


def _layer(keras, call: str):
    return eval(K + call, {"keras": keras})  # noqa: S307 - our own table


def _names(layer) -> list[str]:
    """nncli names of a Keras layer's trainable weights, in Keras's order."""
    names = [v.name for v in layer.trainable_variables]
    if type(layer).__name__ == "Bidirectional":
        half = len(names) // 2
        names = [f"forward_{n}" for n in names[:half]] + [
            f"backward_{n}" for n in names[half:]
        ]
    return names


def _vjp(layer, x, dy, weights, states, training, mask=None):
    """(y, dx, parameter gradients, states after the call) of the layer."""
    import jax

    for var, value in zip(layer.trainable_variables, weights, strict=True):
        var.assign(value)
    integer = np.issubdtype(x.dtype, np.integer)

    given = {}
    if states is not None:  # the moving statistics (not the RNG seed states)
        given = {id(v): s for v, s in zip(layer.non_trainable_weights, states)}

    def call(x, *params):
        fixed = [given.get(id(v), v.value) for v in layer.non_trainable_variables]
        kwargs = {"training": training} if layer._call_has_training_arg else {}
        if mask is not None:
            kwargs["mask"] = mask
        return layer.stateless_call(list(params), fixed, x, **kwargs)

    params = [v.value for v in layer.trainable_variables]
    if integer:  # no gradient for ids

        def by_params(*p):
            return call(x, *p)

        (y, after), vjp = jax.vjp(by_params, *params)
        grads = vjp((dy, [np.zeros_like(s) for s in after]))
        dx = np.zeros(x.shape)
    else:
        (y, after), vjp = jax.vjp(call, x, *params)
        grads = vjp((dy, [np.zeros_like(s) for s in after]))
        dx, grads = np.asarray(grads[0]), grads[1:]
    position = {id(v): i for i, v in enumerate(layer.non_trainable_variables)}
    stats = [after[position[id(v)]] for v in layer.non_trainable_weights]
    return (
        np.asarray(y),
        dx,
        [np.asarray(g) for g in grads],
        [np.asarray(s) for s in stats],
    )


def _draw(rng, shape) -> np.ndarray:
    return rng.normal(0.0, 0.6, shape)


def _sgd_step(keras, rng, call, x, nncli_weights):
    """One train_on_batch of Dense(F) -> layer -> Flatten -> Dense(2)."""
    integer = np.issubdtype(x.dtype, np.integer)
    front = [] if integer else [keras.layers.Dense(x.shape[-1])]
    model = keras.Sequential(
        [
            keras.Input(x.shape[1:], dtype="int64" if integer else None),
            *front,
            _layer(keras, call),
            keras.layers.Flatten(),
            keras.layers.Dense(2),
        ]
    )
    mid = len(front)
    before = {}
    for i, layer in enumerate(model.layers):
        names = (
            _names(layer) if i == mid else [v.name for v in layer.trainable_variables]
        )
        for name, var in zip(names, layer.trainable_variables):
            value = nncli_weights.get(name) if i == mid else None
            value = value if value is not None else _draw(rng, var.shape)
            var.assign(value)
            before[f"layers.{i}.{name}"] = np.asarray(value)
        for var in layer.non_trainable_weights:
            if var.name in nncli_weights:
                var.assign(nncli_weights[var.name])
                before[f"layers.{i}.{var.name}"] = np.asarray(nncli_weights[var.name])
    model.compile(optimizer=keras.optimizers.SGD(STEP_LR), loss="mse")
    target = rng.normal(size=(len(x), 2))
    loss = model.train_on_batch(x, target)
    after = {}
    for i, layer in enumerate(model.layers):
        names = (
            _names(layer) if i == mid else [v.name for v in layer.trainable_variables]
        )
        for name, var in zip(names, layer.trainable_variables):
            after[f"layers.{i}.{name}"] = np.asarray(var.value)
        for var in layer.non_trainable_weights:
            if var.name in nncli_weights:
                after[f"layers.{i}.{var.name}"] = np.asarray(var.value)
    arrays = {"step_target": target, "step_loss": np.asarray(loss)}
    arrays.update({f"step_w0__{k}": v for k, v in before.items()})
    arrays.update({f"step_w1__{k}": v for k, v in after.items()})
    return arrays


def _case(keras, rng, name, cfg, call, in_shape) -> dict[str, np.ndarray]:
    # BatchNormalization's batch statistics over 3 samples are ill-conditioned
    # (a channel's variance can fall below epsilon), so its cases use 8
    batch = 8 if cfg["type"] == "batch_normalization" else 3
    if cfg["type"] == "embedding":
        x = rng.integers(0, cfg["input_dim"], size=(batch, *in_shape))
    else:
        x = rng.normal(size=(batch, *in_shape))
    layer = _layer(keras, call)
    layer.build(x.shape)
    names = _names(layer)
    weights = [_draw(rng, v.shape) for v in layer.trainable_variables]
    states = None
    arrays: dict[str, np.ndarray] = {}
    if layer.non_trainable_weights:  # BatchNormalization: moving mean, variance
        states = [
            rng.normal(0.0, 0.3, v.shape)
            if "mean" in v.name
            else rng.uniform(0.5, 2.0, v.shape)
            for v in layer.non_trainable_weights
        ]
        for v, s in zip(layer.non_trainable_weights, states):
            arrays[v.name] = s
    out_shape = tuple(layer.compute_output_shape(x.shape))[1:]
    dy = rng.normal(size=(batch, *out_shape))
    y, dx, grads, _ = _vjp(layer, x, dy, weights, states, training=False)
    assert y.shape[1:] == out_shape, (name, y.shape, out_shape)
    arrays.update({"x": x, "dy": dy, "y": y, "dx": dx})
    arrays.update(dict(zip(names, weights)))
    arrays.update({f"grad_{n}": g for n, g in zip(names, grads)})
    if states is not None:
        y, dx, grads, after = _vjp(layer, x, dy, weights, states, training=True)
        arrays.update({"train_y": y, "train_dx": dx})
        arrays.update({f"train_grad_{n}": g for n, g in zip(names, grads)})
        for v, s in zip(layer.non_trainable_weights, after):
            arrays[f"train_{v.name}"] = s
    arrays["out_shape"] = np.array(out_shape, dtype=np.int64)
    arrays["count_params"] = np.array(layer.count_params(), dtype=np.int64)
    arrays["non_trainable"] = np.array(
        sum(int(np.prod(v.shape)) for v in layer.non_trainable_weights),
        dtype=np.int64,
    )
    given = dict(zip(names, weights))
    if states is not None:
        given.update({v.name: s for v, s in zip(layer.non_trainable_weights, states)})
    arrays.update(_sgd_step(keras, rng, call, x, given))
    return arrays


def _masked_case(keras, rng, call, features, after):
    """Layer-level arrays under MASK, and the SGD step of the masked model."""
    x = rng.normal(size=(3, MASK.shape[1], features))
    layer = _layer(keras, call)
    layer.build(x.shape)
    names = _names(layer)
    weights = [_draw(rng, v.shape) for v in layer.trainable_variables]
    out_shape = tuple(layer.compute_output_shape(x.shape))[1:]
    dy = rng.normal(size=(3, *out_shape))
    y, dx, grads, _ = _vjp(layer, x, dy, weights, None, False, mask=MASK)
    arrays = {"x": x, "mask": MASK, "dy": dy, "y": y, "dx": dx}
    arrays.update(dict(zip(names, weights)))
    arrays.update({f"grad_{n}": g for n, g in zip(names, grads)})
    arrays["out_shape"] = np.array(out_shape, dtype=np.int64)
    arrays["count_params"] = np.array(layer.count_params(), dtype=np.int64)
    arrays["non_trainable"] = np.array(0, dtype=np.int64)

    ids = np.where(MASK, rng.integers(1, 6, size=MASK.shape), 0)  # (3, 5)
    calls = [f"Embedding(6, {features}, mask_zero=True)"] + [c for _, c in after]
    model = keras.Sequential(
        [
            keras.Input((MASK.shape[1],), dtype="int64"),
            *(_layer(keras, c) for c in calls),
            keras.layers.Dense(2),
        ]
    )
    before = {}
    for i, ly in enumerate(model.layers):
        for name, var in zip(_names(ly), ly.trainable_variables):
            var.assign(_draw(rng, var.shape))
            before[f"layers.{i}.{name}"] = np.asarray(var.value)
    model.compile(optimizer=keras.optimizers.SGD(STEP_LR), loss="mse")
    target = rng.normal(size=(3, 2))
    loss = model.train_on_batch(ids, target)
    arrays.update({"step_ids": ids, "step_target": target})
    arrays["step_loss"] = np.asarray(loss)
    arrays.update({f"step_w0__{k}": v for k, v in before.items()})
    for i, ly in enumerate(model.layers):
        for name, var in zip(_names(ly), ly.trainable_variables):
            arrays[f"step_w1__layers.{i}.{name}"] = np.asarray(var.value)
    return arrays


def generate() -> Fixture:
    import keras

    rng = np.random.default_rng(20261205)
    fixture = Fixture(
        "recurrent",
        {
            "call": "layer.stateless_call(training=False) under jax.vjp; "
            "BatchNormalization also training=True (train_* arrays, and the "
            "moving statistics after the call)",
            "layout": "Keras's weight layouts; Bidirectional weights named "
            "forward_<w> / backward_<w> (nncli's names), forward first",
            "inputs": "x of batch 3; the embedding's are int64 ids (dx is zero)",
            "shapes": "out_shape = compute_output_shape, count_params = "
            "layer.count_params() (trainable and not), non_trainable = the "
            "moving statistics' size; all without the batch axis",
            "step": f"model Dense(features) -> layer -> Flatten -> Dense(2) "
            f"(Embedding -> Flatten -> Dense(2)), SGD({STEP_LR}).train_on_batch "
            "with mse; step_w0/step_w1 are the weights before and after by nncli "
            "name (layers.<i>.<param>), moving statistics included",
            "masked": "cases with a `mask` array: the layer called with mask=mask "
            "(batch, timesteps); their step model is the nncli config's "
            "step_model, Embedding(6, F, mask_zero=True) -> ... -> Dense(2), "
            "trained on step_ids (0 where the mask is false)",
            "summary": "model_<name>: per-layer output shapes (zero-padded), "
            "count_params and non-trainable counts of the example networks",
        },
    )
    for name, cfg, call, in_shape in CASES:
        arrays = _case(keras, rng, name, cfg, call, in_shape)
        fixture.add(name, cfg, "keras.layers." + call, **arrays)

    for name, cfg, call, features, after in MASKED_CASES:
        arrays = _masked_case(keras, rng, call, features, after)
        step_model = [
            {
                "type": "embedding",
                "input_dim": 6,
                "output_dim": features,
                "mask_zero": True,
            },
            *(c for c, _ in after),
            {"type": "dense", "units": 2},
        ]
        fixture.add(
            name, {**cfg, "step_model": step_model}, "keras.layers." + call, **arrays
        )

    for model_name, (in_shape, calls) in MODELS.items():
        model = keras.Sequential(
            [keras.Input(in_shape), *(_layer(keras, c) for c in calls)]
        )
        fixture.add(
            f"model_{model_name}",
            {"model": model_name},
            "keras.Sequential([" + ", ".join(K + c for c in calls) + "])",
            out_shapes=np.array(
                [
                    list(layer.output.shape[1:]) + [0] * (4 - layer.output.ndim)
                    for layer in model.layers
                ],
                dtype=np.int64,
            ),
            count_params=np.array([ly.count_params() for ly in model.layers]),
            non_trainable=np.array(
                [
                    sum(int(np.prod(v.shape)) for v in ly.non_trainable_weights)
                    for ly in model.layers
                ]
            ),
        )
    return fixture
