"""Registry lookups: snake_case names, aliases, and Keras's class-name spellings."""

from __future__ import annotations

import re

import pytest

from nncli.registry import _ALL, Registry, UnknownName
from nncli.spec.schema import run_spec_model

run_spec_model()  # imports every module that registers names
REGISTRIES = {r.kind: r for r in list(_ALL)}


def camel_forms(name: str) -> set[str]:
    """Ways a Keras user writes a snake_case name: class name, capitals."""
    parts = name.split("_")
    naive = "".join(p[:1].upper() + p[1:] for p in parts)  # Conv2d, KlDivergence
    keras = re.sub(r"(\d)d", r"\1D", naive)  # Conv2D, MaxPooling1D
    acronym = parts[0].upper() + keras[len(parts[0]) :]  # KLDivergence, MSE, LSTM
    return {naive, keras, acronym, name.upper(), name.capitalize()}


def test_every_kind_is_covered():
    assert {
        "layer",
        "activation",
        "optimizer",
        "loss",
        "metric",
        "initializer",
        "regularizer",
        "constraint",
        "callback",
        "schedule",
        "dataset",
    } <= set(REGISTRIES)


@pytest.mark.parametrize("kind", sorted(REGISTRIES))
def test_every_registered_name_resolves_in_camel_case(kind):
    registry = REGISTRIES[kind]
    for name in registry.names(aliases=True):
        for form in camel_forms(name):
            assert form in registry, (kind, form)
            assert registry.canonical(form) == registry.canonical(name), (kind, form)


@pytest.mark.parametrize(
    ("kind", "written", "canonical"),
    [
        ("optimizer", "Adam", "adam"),
        ("optimizer", "RMSprop", "rmsprop"),
        ("optimizer", "SGD", "sgd"),
        ("optimizer", "AdamW", "adamw"),
        ("layer", "Dense", "dense"),
        ("layer", "Conv2D", "conv2d"),
        ("layer", "Conv2DTranspose", "conv2d_transpose"),
        ("layer", "BatchNormalization", "batch_normalization"),
        ("layer", "MaxPooling2D", "max_pooling2d"),
        ("layer", "MaxPool2D", "max_pooling2d"),
        ("layer", "GlobalAveragePooling1D", "global_average_pooling1d"),
        ("layer", "LSTM", "lstm"),
        ("layer", "SimpleRNN", "simple_rnn"),
        ("layer", "UpSampling2D", "up_sampling2d"),
        ("layer", "Convolution2D", "conv2d"),
        ("loss", "BinaryCrossentropy", "binary_crossentropy"),
        ("loss", "SparseCategoricalCrossentropy", "sparse_categorical_crossentropy"),
        ("loss", "KLDivergence", "kl_divergence"),
        ("loss", "LogCosh", "log_cosh"),
        ("loss", "MSE", "mean_squared_error"),
        ("loss", "MeanSquaredError", "mean_squared_error"),
        ("metric", "AUC", "auc"),
        ("metric", "F1Score", "f1_score"),
        ("metric", "TopKCategoricalAccuracy", "top_k_categorical_accuracy"),
        ("metric", "RootMeanSquaredError", "root_mean_squared_error"),
        ("initializer", "GlorotUniform", "glorot_uniform"),
        ("initializer", "HeNormal", "he_normal"),
        ("regularizer", "L1L2", "l1_l2"),
        ("regularizer", "L2", "l2"),
        ("constraint", "MaxNorm", "max_norm"),
        ("constraint", "NonNeg", "non_neg"),
        ("activation", "ReLU", "relu"),
        ("activation", "relu6", "relu6"),
        ("activation", "ReLU6", "relu6"),
        ("activation", "LeakyReLU", "leaky_relu"),
        ("activation", "ELU", "elu"),
        ("activation", "GELU", "gelu"),
        ("activation", "Swish", "silu"),
        ("schedule", "ExponentialDecay", "exponential_decay"),
        ("schedule", "PiecewiseConstantDecay", "piecewise_constant_decay"),
        ("callback", "EarlyStopping", "early_stopping"),
        ("callback", "ReduceLROnPlateau", "reduce_lr_on_plateau"),
    ],
)
def test_keras_class_names_resolve(kind, written, canonical):
    assert REGISTRIES[kind].canonical(written) == canonical


@pytest.mark.parametrize(
    ("kind", "typo", "meant"),
    [
        ("layer", "Dens", "dense"),
        ("layer", "MaxPoling2D", "max_pooling2d"),
        ("loss", "BinaryCrossEntropi", "binary_crossentropy"),
        ("optimizer", "RMSProb", "rmsprop"),
    ],
)
def test_typos_still_get_did_you_mean(kind, typo, meant):
    with pytest.raises(UnknownName) as e:
        REGISTRIES[kind].canonical(typo)
    assert f"did you mean {meant!r}?" in str(e.value)
    assert typo not in REGISTRIES[kind]


@pytest.fixture
def toy() -> Registry:
    registry: Registry = Registry("toy")
    yield registry
    _ALL.remove(registry)  # keep the global list to the real registries


def test_a_folded_name_two_names_share_is_refused_as_ambiguous(toy):
    toy.register("conv2d")(object)
    toy.register("conv_2d")(object)
    assert toy.canonical("conv_2d") == "conv_2d" and toy.canonical("conv2d") == "conv2d"
    assert "Conv2D" not in toy
    with pytest.raises(UnknownName) as e:
        toy.canonical("Conv2D")
    assert str(e.value) == "ambiguous toy 'Conv2D': write one of 'conv2d', 'conv_2d'"


@pytest.mark.parametrize("kind", sorted(REGISTRIES))
def test_no_registered_name_is_ambiguous_in_camel_case(kind):
    registry = REGISTRIES[kind]
    shared = {k: v for k, v in registry._folded.items() if len(v) > 1}
    assert not shared, f"{kind} names differ only by case or underscores: {shared}"
