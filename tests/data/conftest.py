"""Fixtures for the data tests: the case files and a DataSpec shortcut."""

from __future__ import annotations

from pathlib import Path

import pytest

from nncli.spec.schema import DataSpec

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "data"


@pytest.fixture
def case_dir():
    """Folder of a case's copied files: case_dir("CASE-003")."""
    return lambda case: FIXTURES / case


@pytest.fixture
def data_spec():
    """A validated DataSpec dumped to a dict, as load_data receives it."""
    return lambda **fields: DataSpec(**fields).model_dump()
