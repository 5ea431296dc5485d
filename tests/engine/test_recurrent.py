"""Recurrent, normalisation and embedding layers: shapes, options, state, refusals.

Gradients are checked in test_gradcheck_layers.py and values against Keras in
test_golden_recurrent.py; here the behaviour around them.
"""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from nncli.engine.backend import Backend
from nncli.engine.layers import layers
from nncli.engine.losses import losses
from nncli.engine.network import Model, Sequential
from nncli.engine.optimizers import optimizers

F64 = Backend.from_name("numpy", dtype="float64")


def _build(cfg, in_shape, backend=F64, seed=0):
    layer = layers.create(cfg)
    out = layer.build(in_shape, backend, np.random.default_rng(seed))
    return layer, out


@pytest.mark.parametrize(
    ("cfg", "params"),
    [
        ({"type": "simple_rnn", "units": 4}, {"kernel": (3, 4), "bias": (4,)}),
        ({"type": "lstm", "units": 4}, {"kernel": (3, 16), "bias": (16,)}),
        ({"type": "gru", "units": 4}, {"kernel": (3, 12), "bias": (2, 12)}),
        (
            {"type": "gru", "units": 4, "reset_after": False},
            {"kernel": (3, 12), "bias": (12,)},
        ),
    ],
)
def test_recurrent_weights_have_keras_layouts(cfg, params):
    layer, out = _build(cfg, (7, 3))
    assert out == (4,)
    shapes = {k: v.shape for k, v in layer.params.items()}
    gates = params["kernel"][1]
    assert shapes == {**params, "recurrent_kernel": (4, gates)}
    seq, out = _build({**cfg, "return_sequences": True}, (7, 3))
    assert out == (7, 4)
    y, _ = seq.forward(np.ones((2, 7, 3)))
    assert y.shape == (2, 7, 4)


def test_lstm_defaults_unit_forget_bias_and_orthogonal_recurrent_kernel():
    layer, _ = _build({"type": "lstm", "units": 5}, (4, 2))
    b = layer.params["bias"]
    np.testing.assert_array_equal(b, np.r_[np.zeros(5), np.ones(5), np.zeros(10)])
    u = layer.params["recurrent_kernel"]  # (5, 20): orthonormal rows
    np.testing.assert_allclose(u @ u.T, np.eye(5), atol=1e-12)
    plain, _ = _build({"type": "lstm", "units": 5, "unit_forget_bias": False}, (4, 2))
    np.testing.assert_array_equal(plain.params["bias"], np.zeros(20))


def test_go_backwards_reads_the_reversed_sequence():
    fwd, _ = _build({"type": "gru", "units": 3, "return_sequences": True}, (5, 2))
    back, _ = _build(
        {"type": "gru", "units": 3, "return_sequences": True, "go_backwards": True},
        (5, 2),
    )
    for k in fwd.params:
        back.params[k][...] = fwd.params[k]
    x = np.random.default_rng(0).normal(size=(2, 5, 2))
    np.testing.assert_allclose(back.forward(x)[0], fwd.forward(x[:, ::-1])[0])


def test_bidirectional_names_merges_and_aligns_the_backward_half():
    cfg = {"type": "lstm", "units": 3, "return_sequences": True}
    bi, out = _build({"type": "bidirectional", "layer": cfg}, (6, 2))
    assert out == (6, 6)
    assert sorted(bi.params) == sorted(
        f"{side}_{w}"
        for side in ("forward", "backward")
        for w in ("kernel", "recurrent_kernel", "bias")
    )
    x = np.random.default_rng(1).normal(size=(2, 6, 2))
    y, _ = bi.forward(x)
    yf, _ = bi.forward_layer.forward(x)
    yb, _ = bi.backward_layer.forward(x)
    np.testing.assert_array_equal(y[..., :3], yf)
    np.testing.assert_array_equal(y[..., 3:], yb[:, ::-1])  # input order
    for mode, out_units in (("sum", 3), ("mul", 3), ("ave", 3)):
        other, shape = _build(
            {"type": "bidirectional", "layer": cfg, "merge_mode": mode}, (6, 2)
        )
        assert shape == (6, out_units)


@pytest.mark.parametrize(
    ("cfg", "match"),
    [
        ({"type": "lstm", "units": 2, "dropout": 0.2}, "dropout"),
        ({"type": "gru", "units": 2, "recurrent_dropout": 0.1}, "dropout"),
        ({"type": "lstm", "units": 2, "return_state": True}, "return_state"),
        ({"type": "simple_rnn", "units": 2, "stateful": True}, "stateful"),
        (
            {
                "type": "bidirectional",
                "layer": {"type": "lstm", "units": 2, "activity_regularizer": "l2"},
            },
            "activity_regularizer",
        ),
    ],
)
def test_unsupported_options_are_refused_with_a_reason(cfg, match):
    with pytest.raises(ValidationError, match=match):
        layers.get(cfg["type"]).Config.model_validate(cfg)


def test_recurrent_layers_need_sequences():
    with pytest.raises(ValueError, match=r"\(timesteps, features\)"):
        _build({"type": "lstm", "units": 2}, (5,))


def test_batch_normalization_uses_batch_stats_in_training_and_moving_at_inference():
    bn, _ = _build({"type": "batch_normalization"}, (3,))
    x = np.random.default_rng(0).normal(2.0, 3.0, size=(50, 3))
    y, _ = bn.forward(x, training=True)
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=0), x.var(axis=0) / (x.var(axis=0) + 1e-3))
    np.testing.assert_allclose(bn.state["moving_mean"], 0.01 * x.mean(axis=0))
    np.testing.assert_allclose(bn.state["moving_variance"], 0.99 + 0.01 * x.var(axis=0))
    before = {k: v.copy() for k, v in bn.state.items()}
    y, _ = bn.forward(x, training=False)  # inference: the moving statistics
    m, v = before["moving_mean"], before["moving_variance"]
    np.testing.assert_allclose(y, (x - m) / np.sqrt(v + 1e-3))
    for k in bn.state:
        np.testing.assert_array_equal(bn.state[k], before[k])  # untouched


def _bn_model(reg=None):
    net = Sequential.from_config(
        [
            {"type": "dense", "units": 4},
            {"type": "batch_normalization", "gamma_regularizer": reg},
            {"type": "dense", "units": 1},
        ]
    )
    net.build((3,), F64, np.random.default_rng(0))
    opt = optimizers.create({"type": "adam", "learning_rate": 0.1})
    return net, Model(net, losses.create("mean_squared_error"), opt)


def test_moving_statistics_are_state_not_parameters():
    net, model = _bn_model(reg={"type": "l2", "l2": 0.5})
    assert sorted(net.states()) == ["layers.1.moving_mean", "layers.1.moving_variance"]
    assert not set(net.states()) & set(net.params())
    assert set(model.optimizer.state_dict().get("slots", {})) == set()
    assert net.count_params() == [16, 16, 5] and net.count_non_trainable() == [0, 8, 0]
    rng = np.random.default_rng(1)
    x, t = rng.normal(size=(16, 3)), rng.normal(size=(16, 1))
    model.train_step(x, t)
    slots = model.optimizer.state_dict()["slots"]
    assert not any("moving" in k for k in slots)  # the optimizer never sees them
    assert set(net.layers[1].regularizers) == {"gamma"}
    weights = net.get_weights()
    assert "layers.1.moving_variance" in weights
    assert not np.allclose(weights["layers.1.moving_mean"], 0)  # updated by forward

    other, _ = _bn_model()
    other.set_weights(weights)
    for k, v in other.get_weights().items():
        np.testing.assert_array_equal(v, weights[k])
    missing = {k: v for k, v in weights.items() if "moving_mean" not in k}
    with pytest.raises(ValueError, match="missing layers.1.moving_mean"):
        other.set_weights(missing)


def test_layer_normalization_is_per_sample_and_the_same_in_training():
    ln, _ = _build({"type": "layer_normalization"}, (4, 6))
    x = np.random.default_rng(0).normal(1.0, 2.0, size=(3, 4, 6))
    y, _ = ln.forward(x, training=True)
    np.testing.assert_allclose(y.mean(axis=-1), 0, atol=1e-12)
    np.testing.assert_array_equal(y, ln.forward(x, training=False)[0])
    assert ln.params["gamma"].shape == (6,)


def test_embedding_looks_up_rows_and_scatters_gradients():
    emb, out = _build({"type": "embedding", "input_dim": 6, "output_dim": 2}, (4,))
    assert out == (4, 2)
    w = emb.params["embeddings"]
    assert np.abs(w).max() <= 0.05  # Keras's uniform(-0.05, 0.05)
    ids = np.array([[0, 5, 5, 2]])
    y, cache = emb.forward(ids)
    np.testing.assert_array_equal(y[0], w[[0, 5, 5, 2]])
    np.testing.assert_array_equal(emb.forward(ids.astype(np.float32))[0], y)
    dx = emb.backward(np.ones((1, 4, 2)), cache)
    np.testing.assert_array_equal(emb.grads["embeddings"][:, 0], [1, 0, 1, 0, 0, 2])
    assert dx.shape == (1, 4) and not dx.any()


def test_float32_layers_stay_float32():
    be = Backend.from_name("numpy", dtype="float32")
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype(np.float32)
    for cfg in (
        {"type": "lstm", "units": 4, "return_sequences": True},
        {"type": "gru", "units": 4},
        {"type": "simple_rnn", "units": 4},
        {"type": "bidirectional", "layer": {"type": "gru", "units": 2}},
        {"type": "batch_normalization"},
        {"type": "layer_normalization"},
    ):
        layer, _ = _build(cfg, (5, 3), be)
        y, cache = layer.forward(x, training=True)
        dx = layer.backward(np.ones_like(y), cache)
        assert y.dtype == dx.dtype == np.float32, cfg
        assert all(g.dtype == np.float32 for g in layer.grads.values()), cfg


def test_rnn_config_round_trips():
    for cfg in (
        {"type": "lstm", "units": 3, "return_sequences": True},
        {"type": "bidirectional", "layer": {"type": "gru", "units": 2}},
        {"type": "batch_normalization", "momentum": 0.9},
        {"type": "embedding", "input_dim": 9, "output_dim": 2},
    ):
        full = layers.create(cfg).get_config()
        assert layers.create(full).get_config() == full
        assert {k: full[k] for k in cfg} == {
            k: (layers.create(cfg).get_config()[k]) for k in cfg
        }


def _net(cfgs, in_shape):
    net = Sequential.from_config(cfgs)
    net.build(in_shape, F64, np.random.default_rng(0))
    return net


EMB = {"type": "embedding", "input_dim": 9, "output_dim": 3, "mask_zero": True}


@pytest.mark.parametrize(
    ("between", "match"),
    [
        ([{"type": "flatten"}], "flatten cannot use the padding mask of layer 0"),
        (
            [{"type": "batch_normalization"}],
            "batch_normalization cannot use the padding mask",
        ),
        (
            [{"type": "lstm", "units": 2, "return_sequences": True}],
            "reaches the model output",
        ),
    ],
)
def test_a_padding_mask_must_end_in_a_recurrent_layer(between, match):
    from nncli.engine.network import LayerBuildError

    with pytest.raises(LayerBuildError, match=match):
        _net([EMB, *between, {"type": "dense", "units": 1}], (6,))


def test_masked_steps_are_skipped_as_if_the_sequence_were_shorter():
    tail = [
        {"type": "dense", "units": 4},  # the mask passes through these two
        {"type": "dropout", "rate": 0.5},
        {"type": "lstm", "units": 3, "return_sequences": True},
        {"type": "gru", "units": 2},
        {"type": "dense", "units": 1},
    ]
    net = _net([EMB, *tail], (6,))
    assert net.masks == [None, 0, 0, 0, 0, None]
    plain = _net([{**EMB, "mask_zero": False}, *tail], (6,))
    plain.set_weights(net.get_weights())
    ids = np.array([[3, 1, 4, 1, 0, 0], [5, 0, 0, 2, 6, 0]])
    y = net.forward(ids)[0]  # inference: dropout off
    for row, real in ((0, [3, 1, 4, 1]), (1, [5, 2, 6])):
        alone = plain.forward(np.array([real]))[0]  # only the real tokens
        np.testing.assert_allclose(y[row], alone[0], rtol=1e-12)
    y, caches = net.forward(ids, training=True)
    assert caches[3].mask is not None and caches[4].mask is not None
    net.backward(np.ones_like(y), caches)
    assert not net.layers[0].grads["embeddings"][0].any()  # padding learns nothing
    assert net.layers[0].grads["embeddings"][3].any()


class _Masked:
    """A recurrent layer with a fixed padding mask, for the gradient checker."""

    def __init__(self, layer, mask):
        self.layer, self.mask = layer, mask
        self.params, self.grads = layer.params, layer.grads

    def forward(self, x, training=False):
        return self.layer.forward(x, training, mask=self.mask)

    def backward(self, dy, cache, need_dx=True):
        return self.layer.backward(dy, cache, need_dx)


@pytest.mark.parametrize(
    "cfg",
    [
        {"type": "simple_rnn", "units": 3, "return_sequences": True},
        {"type": "lstm", "units": 3},
        {"type": "lstm", "units": 2, "activation": "elu", "return_sequences": True},
        {"type": "lstm", "units": 2, "zero_output_for_mask": True},
        {"type": "gru", "units": 3, "go_backwards": True},
        {"type": "gru", "units": 2, "reset_after": False, "return_sequences": True},
        {
            "type": "bidirectional",
            "layer": {"type": "lstm", "units": 2, "return_sequences": True},
        },
    ],
    ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items() if k != "type"),
)
def test_masked_gradients_match_finite_differences(cfg):
    from nncli.engine.gradcheck import check_layer

    layer, _ = _build(cfg, (5, 2), seed=3)
    for p in layer.params.values():
        p[...] = np.random.default_rng(4).normal(size=p.shape)
    mask = np.array([[1, 1, 1, 0, 0], [0, 0, 1, 1, 1], [1, 0, 1, 1, 0]], dtype=bool)
    x = np.random.default_rng(5).normal(size=(3, 5, 2))
    errors = check_layer(_Masked(layer, mask), x)
    assert set(errors) == {"dx", *layer.params}
