"""Standardisation from training statistics only, label mapping, JSON round-trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nncli.data.preprocess import Preprocessing
from nncli.data.sources import load_data
from nncli.errors import DataError


def write(path, text):
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def files(tmp_path):
    write(tmp_path / "t.csv", "a,b,c,y\n1,10,5,0\n3,10,7,1\n5,10,9,0\n")
    write(tmp_path / "v.csv", "a,b,c,y\n100,0,0,1\n")
    return tmp_path


def test_standardize_uses_training_rows_only(files, data_spec):
    spec = data_spec(train="t.csv", validation="v.csv", target="y", standardize=True)
    splits = load_data(spec, files, 0, (3,))
    prep = splits.prep
    np.testing.assert_allclose(prep.mean, [3.0, 10.0, 7.0])
    np.testing.assert_allclose(
        prep.std, [np.sqrt(8 / 3), 1.0, np.sqrt(8 / 3)]
    )  # b: 0 -> 1
    np.testing.assert_allclose(splits.train.x.mean(axis=0), [0.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(splits.train.x.std(axis=0), [1.0, 0.0, 1.0])
    np.testing.assert_allclose(
        splits.validation.x, [[97 / np.sqrt(8 / 3), -10.0, -7 / np.sqrt(8 / 3)]]
    )


def test_no_standardize_leaves_values(files, data_spec):
    splits = load_data(data_spec(train="t.csv", target="y"), files, 0, (3,))
    assert splits.prep.mean is None and splits.prep.std is None
    assert splits.train.x[:, 0].tolist() == [1.0, 3.0, 5.0]
    assert splits.prep.apply(splits.train.x) is not None


def test_standardize_after_split_fits_training_part(tmp_path, data_spec):
    write(tmp_path / "t.csv", "a,y\n" + "".join(f"{i},0\n" for i in range(10)))
    spec = data_spec(
        train="t.csv",
        target="y",
        standardize=True,
        validation_split=0.2,
        split_shuffle=False,
    )
    splits = load_data(spec, tmp_path, 0, (1,))
    np.testing.assert_allclose(splits.prep.mean, [3.5])  # rows 0..7 only
    assert splits.validation.rows.tolist() == [9, 10]


def test_apply_keeps_shape_for_sequences():
    prep = Preprocessing(input_shape=(3, 2))
    x = np.arange(12.0).reshape(2, 3, 2)
    prep.fit_standardize(x)
    assert prep.mean.shape == (6,)
    out = prep.apply(x)
    assert out.shape == (2, 3, 2)
    np.testing.assert_allclose(out.reshape(2, 6), [[-1.0] * 6, [1.0] * 6])
    np.testing.assert_allclose(prep.apply(x.reshape(2, 6)), out.reshape(2, 6))
    with pytest.raises(DataError, match="expected 6 feature values per row"):
        prep.apply(np.zeros((2, 5)))


def test_json_round_trip_is_exact(files, data_spec):
    spec = data_spec(train="t.csv", target="y", standardize=True)
    prep = load_data(spec, files, 0, (3,)).prep
    prep.mean = prep.mean + 1 / 3  # digits that must survive the trip
    back = Preprocessing.from_json(json.loads(json.dumps(prep.to_json())))
    assert back.mean.tobytes() == prep.mean.tobytes()
    assert back.std.tobytes() == prep.std.tobytes()
    assert (back.input_shape, back.feature_names, back.target_names, back.classes) == (
        (3,),
        ["a", "b", "c"],
        ["y"],
        None,
    )
    assert back.to_json() == prep.to_json()


def test_json_round_trip_with_classes(data_spec):
    prep = Preprocessing(
        input_shape=(4,),
        feature_names=["a", "b", "c", "d"],
        target_names=["species"],
        classes=["setosa", "versicolor"],
    )
    data = json.loads(json.dumps(prep.to_json()))
    assert data["classes"] == ["setosa", "versicolor"] and data["standardize"] is False
    back = Preprocessing.from_json(data)
    assert back.classes == prep.classes and back.mean is None
    assert back.label_map() == {"setosa": 0, "versicolor": 1}


def test_malformed_json():
    with pytest.raises(DataError, match="preprocessing record is malformed"):
        Preprocessing.from_json({"version": 1})
    with pytest.raises(DataError, match="unsupported version"):
        Preprocessing.from_json({"version": 99, "input_shape": [1]})
    bad = Preprocessing(input_shape=(2,), mean=np.zeros(3), std=np.ones(3)).to_json()
    with pytest.raises(DataError, match="mean/std length"):
        Preprocessing.from_json(bad)


def test_encode_with_saved_classes():
    prep = Preprocessing(input_shape=(1,), classes=["a", "b"])
    assert prep.encode(["b", "a"], [1, 2], "evaluation file e.csv").tolist() == [1, 0]
    with pytest.raises(DataError) as info:
        prep.encode(["a", "z", "q"], [3, 4, 5], "evaluation file e.csv")
    assert str(info.value) == (
        "evaluation file e.csv: row 4 has label 'z', which the training data does not "
        "have (and 1 more row with unknown labels); known classes: a, b"
    )
