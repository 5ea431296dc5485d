"""validation_split: Keras's counts, seeded shuffle, Keras's tail, refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nncli.data.sources import load_data
from nncli.errors import DataError


@pytest.fixture
def ten(tmp_path):
    rows = "".join(f"{i},{i % 2}\n" for i in range(10))
    (tmp_path / "t.csv").write_text("a,y\n" + rows, encoding="utf-8")
    return tmp_path


def split(folder, data_spec, fraction, shuffle=True, seed=0):
    spec = data_spec(
        train="t.csv", target="y", validation_split=fraction, split_shuffle=shuffle
    )
    return load_data(spec, folder, seed, (1,))


@pytest.mark.parametrize(
    ("n", "fraction"),
    [(10, 0.2), (10, 0.3), (10, 0.25), (150, 0.2), (569, 0.1), (7, 0.5), (100, 0.33)],
)
def test_counts_follow_keras(tmp_path, data_spec, n, fraction):
    rows = "".join(f"{i},0\n" for i in range(n))
    (tmp_path / "t.csv").write_text("a,y\n" + rows, encoding="utf-8")
    splits = split(tmp_path, data_spec, fraction)
    split_at = math.floor(n * (1.0 - fraction))  # keras train_validation_split
    assert len(splits.train.x) == split_at
    assert len(splits.validation.x) == n - split_at
    assert sorted(splits.train.rows.tolist() + splits.validation.rows.tolist()) == list(
        range(1, n + 1)
    )


def test_unshuffled_takes_the_tail(ten, data_spec):
    splits = split(ten, data_spec, 0.3, shuffle=False)
    assert splits.train.rows.tolist() == list(range(1, 8))
    assert splits.validation.rows.tolist() == [8, 9, 10]
    assert splits.validation.x.ravel().tolist() == [7.0, 8.0, 9.0]
    assert splits.validation.role == "validation" and splits.train.role == "training"
    assert splits.notes == [
        "validation: 3 of 10 rows of t.csv (0.3, the last rows); training on 7"
    ]


def test_shuffled_split_is_seeded_and_keeps_file_order(ten, data_spec):
    a, b = split(ten, data_spec, 0.3, seed=1), split(ten, data_spec, 0.3, seed=1)
    assert a.validation.rows.tolist() == b.validation.rows.tolist()
    expected = np.sort(np.random.default_rng(1).permutation(10)[7:]) + 1
    assert a.validation.rows.tolist() == expected.tolist()
    assert np.all(np.diff(a.train.rows) > 0) and np.all(np.diff(a.validation.rows) > 0)
    assert a.validation.x.ravel().tolist() == (expected - 1).astype(float).tolist()
    others = {
        tuple(split(ten, data_spec, 0.3, seed=s).validation.rows) for s in range(5)
    }
    assert len(others) > 1
    assert a.sources["validation"].endswith("(shuffled with seed 1)")


@pytest.mark.parametrize(
    ("n", "fraction", "side"),
    [(1, 0.5, "training"), (2, 0.6, "training"), (5, 1e-17, "validation")],
)
def test_empty_side_is_refused(tmp_path, data_spec, n, fraction, side):
    # keras refuses when floor(n * (1 - f)) is 0 or n
    (tmp_path / "t.csv").write_text("a,y\n" + "1,0\n" * n, encoding="utf-8")
    with pytest.raises(DataError) as info:
        split(tmp_path, data_spec, fraction)
    assert str(info.value) == (
        f"training data t.csv: validation_split {fraction} of {n} rows leaves 0 rows for "
        f"{side}; use more data or a different data.validation_split"
    )


def test_classes_come_from_the_whole_file(tmp_path, data_spec):
    rows = "1,a\n2,a\n3,a\n4,b\n"
    (tmp_path / "t.csv").write_text("x,y\n" + rows, encoding="utf-8")
    splits = split(tmp_path, data_spec, 0.25, shuffle=False)
    assert splits.prep.classes == ["a", "b"]
    assert splits.validation.y.tolist() == [1] and splits.train.y.tolist() == [0, 0, 0]
    assert splits.validation.classes == ["a", "b"]


def test_sorted_file_warning_without_shuffle(data_spec, tmp_path):
    splits = load_data(
        data_spec(dataset={"type": "iris"}, validation_split=0.2, split_shuffle=False),
        tmp_path,
        0,
        (4,),
    )
    assert set(splits.validation.y.tolist()) == {2}
    assert splits.notes[-1] == (
        "warning: every validation row has label 'virginica'; the "
        "file looks sorted by label, set data.split_shuffle: true"
    )
    shuffled = load_data(
        data_spec(dataset={"type": "iris"}, validation_split=0.2), tmp_path, 0, (4,)
    )
    assert len(set(shuffled.validation.y.tolist())) == 3
    assert not any(n.startswith("warning") for n in shuffled.notes)


def test_sorted_numeric_labels_warning(tmp_path, data_spec):
    rows = "1,0\n2,0\n3,0\n4,1\n5,1\n"
    (tmp_path / "t.csv").write_text("x,y\n" + rows, encoding="utf-8")
    splits = split(tmp_path, data_spec, 0.4, shuffle=False)
    assert splits.notes[-1].startswith("warning: every validation row has label '1';")
