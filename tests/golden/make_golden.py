"""Regenerate the Keras golden fixtures (by hand; tests never import Keras).

    pip install keras==3.15.1 jax       # the reference, never a test dependency
    python tests/golden/make_golden.py            # every kind
    python tests/golden/make_golden.py losses     # only keras_losses.py

Each `keras_<kind>.py` beside this file defines `generate() -> Fixture`.
The older PyTorch fixtures come from tests/fixtures/make_golden.py.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))  # the repo, for `import nncli`

from common import keras_float64, write  # noqa: E402


def main(kinds: list[str]) -> None:
    keras_float64()
    found = sorted(p.stem.removeprefix("keras_") for p in HERE.glob("keras_*.py"))
    for kind in kinds or found:
        if kind not in found:
            raise SystemExit(f"no tests/golden/keras_{kind}.py (have: {found})")
        write(importlib.import_module(f"keras_{kind}").generate())


if __name__ == "__main__":
    main(sys.argv[1:])
