"""Shared fixtures: a numpy backend always, cupy only where a device exists."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from nncli.engine.backend import Backend, cuda_available


def _backends() -> list:
    params = [pytest.param("numpy", id="numpy")]
    params.append(
        pytest.param(
            "cupy",
            id="cupy",
            marks=[
                pytest.mark.gpu,
                pytest.mark.skipif(not cuda_available(), reason="no CUDA device"),
            ],
        )
    )
    return params


@pytest.fixture(params=_backends())
def backend(request) -> Backend:
    return Backend.from_name(request.param)


@pytest.fixture
def write_spec(tmp_path: Path):
    """Write YAML text (dedented) to tmp_path/<name> and return its path."""

    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path

    return write
