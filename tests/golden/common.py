"""Shared plumbing for the Keras golden generators (run by hand, never by tests).

Every generator module in this folder (`keras_<kind>.py`) has a function
`generate() -> Fixture`; `make_golden.py` runs them and writes
tests/fixtures/golden/keras_<kind>.npz (arrays, float64 unless an integer
input) with a keras_<kind>.json sidecar naming the framework, its version,
the backend, the dtype and the conventions, and per case the nncli config
and the Keras call that produced it. Tests read only those files.

Keras runs on the JAX backend with x64 enabled and floatx float64, so the
reference values are float64 end to end.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "fixtures" / "golden"


def keras_float64():
    """Import Keras 3 on JAX in float64 (before any other Keras import)."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import jax

    jax.config.update("jax_enable_x64", True)
    import keras

    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")  # layers compute in float64 too
    if keras.backend.backend() != "jax":
        raise SystemExit("set KERAS_BACKEND=jax to regenerate the golden files")
    # Keras's type promotion maps float64 to float32 off TensorFlow, so ops that
    # promote (ops.mean: result_type(x, "float32")) would compute in float32
    from keras.src.backend.common import dtypes

    dtypes.BIT64_TO_BIT32_DTYPE["float64"] = "float64"
    if keras.backend.result_type("float64", "float32") != "float64":
        raise SystemExit("Keras still promotes float64 to float32")
    return keras


@dataclass
class Fixture:
    """What one generator produced: arrays, cases and the conventions."""

    kind: str
    conventions: dict[str, str]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, name: str, nncli: dict[str, Any], keras_call: str, **arrays):
        """One case: its nncli config, the Keras call, and its arrays.

        Arrays are stored as `<name>__<key>`; shared inputs go in `arrays`
        directly. Case names must be unique within a kind.
        """
        if name in self.cases:
            raise ValueError(f"duplicate golden case {name!r}")
        self.cases[name] = {"nncli": nncli, "keras": keras_call}
        for key, value in arrays.items():
            self.arrays[f"{name}__{key}"] = np.asarray(value)


def write(fixture: Fixture) -> None:
    import jax
    import keras

    OUT.mkdir(parents=True, exist_ok=True)
    name = f"keras_{fixture.kind}"
    np.savez_compressed(OUT / f"{name}.npz", **fixture.arrays)
    sidecar = {
        "kind": fixture.kind,
        "framework": "keras",
        "version": keras.__version__,
        "backend": f"jax {jax.__version__}",
        "numpy": np.__version__,
        "dtype": "float64",
        "generated_by": f"tests/golden/keras_{fixture.kind}.py via make_golden.py",
        "conventions": fixture.conventions,
        "cases": fixture.cases,
    }
    text = json.dumps(sidecar, indent=2, sort_keys=True) + "\n"
    (OUT / f"{name}.json").write_text(text)
    print(f"wrote {name}: {len(fixture.arrays)} arrays, {len(fixture.cases)} cases")
