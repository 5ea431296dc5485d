"""Every registered op has golden coverage from a reference framework.

A name is covered when it is the top-level `type` of a case's nncli config
in a golden sidecar of its own kind (tests/fixtures/golden/*.json: the Keras
fixtures from tests/golden/, the older PyTorch ones from
tests/fixtures/make_golden.py). Aliases count for their canonical name.
An op without a golden case needs an entry in EXEMPT saying why; an
exemption for a name that is covered after all, or no longer registered, is
itself a failure, so the list cannot go stale. Gradient-check coverage is
enforced beside the checks, in test_gradcheck_layers.py.
"""

from __future__ import annotations

import importlib
import json
from collections import defaultdict

import pytest
from helpers import GOLDEN

# sidecar kind -> (module, registry attribute)
REGISTRIES = {
    "activations": ("nncli.engine.activations", "activations"),
    "constraints": ("nncli.engine.constraints", "constraints"),
    "initializers": ("nncli.engine.initializers", "initializers"),
    "layers": ("nncli.engine.layers", "layers"),
    "losses": ("nncli.engine.losses", "losses"),
    "metrics": ("nncli.engine.metrics", "metrics"),
    "optimizers": ("nncli.engine.optimizers", "optimizers"),
    "regularizers": ("nncli.engine.regularizers", "regularizers"),
    "schedules": ("nncli.engine.schedules", "schedules"),
    "callbacks": ("nncli.train.callbacks", "callbacks"),
}

# sidecar kinds that hold cases of another kind's registry
SAME_REGISTRY = {"conv": "layers", "recurrent": "layers"}

# (kind, name) -> why it has no golden case
EXEMPT: dict[tuple[str, str], str] = {
    ("callbacks", "model_checkpoint"): "Keras's ModelCheckpoint writes files and "
    "decides nothing else; its save decisions are tested in tests/test_callbacks.py",
    ("callbacks", "terminate_on_nan"): "accepted for Keras familiarity; nncli always "
    "stops on a non-finite loss (exit 4), tested in tests/test_robustness.py",
}


def _registry(kind: str):
    module, attr = REGISTRIES[kind]
    return getattr(importlib.import_module(module), attr)


def _covered() -> dict[str, set[str]]:
    covered: dict[str, set[str]] = defaultdict(set)
    for path in sorted(GOLDEN.glob("*.json")):
        sidecar = json.loads(path.read_text())
        kind = SAME_REGISTRY.get(sidecar["kind"], sidecar["kind"])
        if kind not in REGISTRIES:
            continue
        registry = _registry(kind)
        for case in sidecar["cases"].values():
            name = case["nncli"].get("type")
            # whole-model cases (type "sequential", "dense") sit beside the ops
            if name is not None and name in registry:
                covered[kind].add(registry.canonical(name))
    return covered


COVERED = _covered()


@pytest.mark.parametrize("kind", sorted(REGISTRIES))
def test_every_registered_name_has_a_golden_case(kind):
    registry = _registry(kind)
    missing = [
        name
        for name in registry.names()
        if name not in COVERED[kind] and (kind, name) not in EXEMPT
    ]
    assert missing == [], f"{kind} without a golden case or an exemption: {missing}"


def test_exemptions_are_needed_and_justified():
    for (kind, name), why in EXEMPT.items():
        assert name in _registry(kind).names(), f"{kind} {name}: not registered"
        assert name not in COVERED[kind], f"{kind} {name}: covered, drop exemption"
        assert len(why) > 20, f"{kind} {name}: say why"


def test_every_golden_file_names_its_reference():
    sidecars = sorted(GOLDEN.glob("*.json"))
    assert len(sidecars) >= len(REGISTRIES)
    for path in sidecars:
        meta = json.loads(path.read_text())
        assert meta["framework"] in ("keras", "torch"), path.name
        assert meta["version"] and meta["conventions"], path.name
        assert (path.with_suffix(".npz")).exists(), path.name
        assert meta["cases"], path.name
