"""Arbitrary file contents end in data or in one DataError line, nothing else."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nncli.data.checks import check_targets
from nncli.data.sources import load_data
from nncli.errors import DataError
from nncli.spec.schema import DataSpec

CELLS = st.sampled_from(["1", "0", "-2.5", "1e3", "", "?", "NaN", "inf", "cat", " 2 "])
ROWS = st.lists(st.lists(CELLS, min_size=1, max_size=4), max_size=6)
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def attempt(content: bytes, **fields) -> None:
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "t.csv").write_bytes(content)
        spec = DataSpec(train="t.csv", **fields).model_dump()
        try:
            splits = load_data(spec, Path(folder), 0, (2,))
        except DataError as err:
            assert "\n" not in str(err) and str(err)
            return
        assert splits.train.x.shape[1:] == (2,)
        assert np.isfinite(splits.train.x).all()
        for kind, units in (("sparse", 3), ("onehot", 3), ("binary", 1), ("real", 1)):
            try:
                check_targets(splits.train, kind, units, "linear", "loss")
            except DataError as err:
                assert "\n" not in str(err)


@SETTINGS
@given(ROWS, st.sampled_from(["error", "drop"]), st.booleans())
def test_table_like_files(rows, missing, header):
    text = "\n".join(",".join(r) for r in rows)
    if header:
        text = "a,b,y\n" + text
    target = "y" if header else 2
    attempt(text.encode(), target=target, header=header, missing=missing)


@SETTINGS
@given(st.binary(max_size=80))
def test_arbitrary_bytes(content):
    attempt(content, target=-1)


@SETTINGS
@given(
    st.text(alphabet=st.sampled_from(list('01,.\n\r "-e?a\x00\t\u2028')), max_size=40)
)
def test_csv_syntax_corners(text):
    attempt(text.encode(), target=-1)


def test_control_characters_are_escaped_in_messages():
    attempt(b'"a\nb",y\n', target="y")  # a quoted newline in a header name
