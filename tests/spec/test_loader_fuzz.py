"""The spec loader shows no traceback for any input: every outcome is a valid
session or a clean SpecError (exit 2), for random bytes, arbitrary YAML
documents (huge numbers, deep nesting, odd tags) and random edits of a real
spec. Property tests with hypothesis; the model is built, no data is loaded.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nncli.errors import SpecError
from nncli.train.session import prepare

SEED_SPEC = (Path(__file__).resolve().parents[2] / "specs" / "moons.yaml").read_text()
FUZZ = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _outcome(tmp_path: Path, payload: bytes) -> str:
    path = tmp_path / "fuzz.yaml"
    path.write_bytes(payload)
    try:
        prepare(path, load_data=False)
    except SpecError as e:
        assert e.issues and all(str(i).strip() for i in e.issues)
        assert all(len(str(i).splitlines()) == 1 for i in e.issues), "one line each"
        return "spec error"
    return "ok"


_numbers = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40),
    st.integers().map(lambda i: i * 10**200),  # long digit strings
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -0.0, 1e308, -1e308, 5e-324, 2**63, -(2**63) - 1]),
)
_scalars = st.one_of(
    st.none(), st.booleans(), _numbers, st.text(max_size=30), st.binary(max_size=8)
)
_keys = st.one_of(
    st.sampled_from(
        [
            "data",
            "model",
            "layers",
            "type",
            "units",
            "epochs",
            "loss",
            "optimizer",
            "input_shape",
            "dataset",
            "metrics",
            "batch_size",
            "seed",
            "activation",
        ]
    ),
    st.text(max_size=10),
)
_trees = st.recursive(
    _scalars,
    lambda c: st.one_of(st.lists(c, max_size=4), st.dictionaries(_keys, c, max_size=4)),
    max_leaves=25,
)


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes(tmp_path, payload):
    _outcome(tmp_path, payload)


@FUZZ
@given(st.dictionaries(_keys, _trees, max_size=8))
def test_arbitrary_yaml_documents(tmp_path, tree):
    _outcome(tmp_path, yaml.dump(tree, allow_unicode=True).encode())


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=len(SEED_SPEC)),
            st.sampled_from(["delete", "insert", "replace"]),
            st.sampled_from(list(" :-[]{},#&*!|>'\"\t\n0123456789.eE_abcxyz\x00é")),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_random_edits_of_a_real_spec(tmp_path, edits):
    text = SEED_SPEC
    for at, op, ch in edits:
        at = min(at, len(text))
        if op == "delete":
            text = text[:at] + text[at + 1 :]
        elif op == "insert":
            text = text[:at] + ch + text[at:]
        else:
            text = text[:at] + ch + text[at + 1 :]
    _outcome(tmp_path, text.encode())


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 20000 + "]" * 20000,
        "a: " + "{b: " * 5000 + "1" + "}" * 5000,
        "".join("  " * i + f"k{i}:\n" for i in range(400)) + "  " * 400 + "1\n",
        "epochs: " + "9" * 5000,
        "batch_size: 0x" + "f" * 3000,
        "optimizer: {type: sgd, learning_rate: 1e99999}",
        "name: " + "x" * 1_000_000,
        "a: &x [*x]",
        "a: !!python/object/apply:os.system [ls]",
        "? [a, b]\n: 1",
        "\ufeff",
        "name: a\x00b",
        "model: {input_shape: [100000000000, 100000000000], layers: "
        "[{type: dense, units: 1}]}\nloss: mse\ndata: {dataset: moons}",
    ],
    ids=lambda t: repr(t[:24]),
)
def test_hostile_documents(tmp_path, text):
    assert _outcome(tmp_path, text.encode()) == "spec error"


def test_the_unedited_spec_is_accepted(tmp_path):
    """The edits above start from a spec that loads (else they test nothing)."""
    assert _outcome(tmp_path, SEED_SPEC.encode()) == "ok"


def test_a_key_with_a_line_break_is_reported_on_one_line(tmp_path):
    (tmp_path / "spec.yaml").write_text("? 'a\n\n  b'\n: 1\n")
    with pytest.raises(SpecError) as info:
        prepare(tmp_path / "spec.yaml", load_data=False)
    lines = info.value.lines()
    assert all(len(line.splitlines()) == 1 for line in lines)
    assert any("unknown key 'a\\nb'" in line for line in lines), lines
