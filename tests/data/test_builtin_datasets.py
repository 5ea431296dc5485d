"""Datasets that ship with nncli: shapes, classes, seeds, the real tables' contents."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from pydantic import ValidationError

from nncli.data.datasets import datasets
from nncli.data.sources import load_data
from nncli.datasets import read_table
from nncli.errors import DataError
from nncli.registry import StrictModel

SYNTHETIC = ["moons", "circles", "xor", "spirals", "blobs"]


def load(name, spec_seed=0, **options):
    return datasets.create({"type": name, **options}).load(spec_seed)


def test_registry_names_and_configs():
    tables = ["iris", "breast_cancer", "digits", "elnino"]
    assert sorted(datasets) == sorted(SYNTHETIC + tables + ["tokens"])
    for name, cls in datasets.items():
        assert issubclass(cls.Config, StrictModel)
        assert cls.Config().type == name  # `type: Literal[name]` with its default
        # the config's fields are the constructor's keyword arguments
        datasets.create(cls.Config().model_dump())


@pytest.mark.parametrize("name", SYNTHETIC)
def test_synthetic_shape_dtype_and_balance(name):
    x, y, classes = load(name, n_samples=101)
    assert x.shape == (101, 2) and x.dtype == np.float64
    assert y.shape == (101,) and y.dtype == np.int64
    assert classes is None
    counts = np.bincount(y)
    assert counts.max() - counts.min() <= (1 if name != "xor" else 30)


@pytest.mark.parametrize("name", SYNTHETIC)
def test_synthetic_seeds(name):
    a, b, c = load(name, 3), load(name, 3), load(name, 4)
    assert a[0].tobytes() == b[0].tobytes() and a[1].tobytes() == b[1].tobytes()
    assert not np.array_equal(a[0], c[0])
    own = load(name, 99, seed=3)  # the dataset's own seed wins over the spec's
    assert own[0].tobytes() == a[0].tobytes()


def test_noise_free_shapes():
    x, y, _ = load("circles", n_samples=200, noise=0.0, factor=0.3)
    radius = np.hypot(x[:, 0], x[:, 1])
    np.testing.assert_allclose(radius[y == 0], 1.0)
    np.testing.assert_allclose(radius[y == 1], 0.3)
    x, y, _ = load("xor", n_samples=200, noise=0.0)
    assert ((x[:, 0] * x[:, 1] < 0) == (y == 1)).all()
    x, y, _ = load("spirals", n_samples=200, noise=0.0)
    assert np.hypot(x[:, 0], x[:, 1]).max() == pytest.approx(1.0)
    x, y, _ = load("moons", n_samples=200, noise=0.0)
    assert x[y == 0, 1].min() >= -1e-12  # the upper moon stays above y = 0


def test_blobs_options():
    x, y, _ = load("blobs", n_samples=100, centers=4, n_features=3, cluster_std=0.01)
    assert x.shape == (100, 3) and np.bincount(y).tolist() == [25, 25, 25, 25]
    for k in range(4):
        assert x[y == k].std(axis=0).max() < 0.05


def test_iris_table():
    x, y, classes = load("iris")
    assert x.shape == (150, 4) and classes == ["setosa", "versicolor", "virginica"]
    assert np.bincount(y).tolist() == [50, 50, 50]
    np.testing.assert_array_equal(x[0], [5.1, 3.5, 1.4, 0.2])
    assert y[0] == 0 and y[50] == 1 and y[149] == 2
    np.testing.assert_array_equal(
        x[34], [4.9, 3.1, 1.5, 0.2]
    )  # Fisher's value, not UCI's
    np.testing.assert_allclose(
        x.mean(axis=0), [5.843333, 3.057333, 3.758, 1.199333], atol=1e-6
    )
    header, rows = read_table("iris")
    assert header == [
        "sepal_length",
        "sepal_width",
        "petal_length",
        "petal_width",
        "species",
    ]
    assert len(rows) == 150


def test_breast_cancer_table():
    x, y, classes = load("breast_cancer")
    assert x.shape == (569, 30) and classes == ["benign", "malignant"]
    assert np.bincount(y).tolist() == [357, 212]  # benign=0, malignant=1 (sorted)
    assert x[0, 0] == 17.99 and y[0] == 1  # first row: malignant
    header, _ = read_table("breast_cancer")
    assert header[0] == "mean_radius" and header[10] == "radius_error"
    assert header[20] == "worst_radius" and header[29] == "worst_fractal_dimension"
    assert header[30] == "diagnosis" and len(set(header)) == 31


def test_digits_images():
    x, y, classes = load("digits")
    assert x.shape == (1797, 64) and x.dtype == np.float64
    assert classes == [str(d) for d in range(10)]
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert x.min() == 0 and x.max() == 16 and (x == np.round(x)).all()
    first = x[0].reshape(8, 8)  # a zero, row-major pixels
    assert first[0].tolist() == [0, 0, 5, 13, 9, 1, 0, 0] and y[0] == 0
    header, rows = read_table("digits")
    assert header[0] == "pixel_0_0" and header[63] == "pixel_7_7"
    assert header[64] == "digit" and len(rows) == 1797


def test_digits_as_images(tmp_path, data_spec):
    splits = load_data(data_spec(dataset="digits"), tmp_path, 0, (8, 8, 1))
    assert splits.train.x.shape == (1797, 8, 8, 1)
    x, _, _ = load("digits")
    np.testing.assert_array_equal(splits.train.x[5, :, :, 0], x[5].reshape(8, 8))


def test_load_data_with_builtins(tmp_path, data_spec):
    splits = load_data(data_spec(dataset={"type": "breast_cancer"}), tmp_path, 0, (30,))
    assert splits.prep.classes == ["benign", "malignant"]
    assert splits.prep.target_names == ["diagnosis"]
    assert splits.prep.feature_names[-1] == "worst_fractal_dimension"
    assert (
        splits.train.y.dtype == np.int64
        and splits.train.origin == "dataset breast_cancer"
    )
    moons = load_data(
        data_spec(dataset={"type": "moons", "n_samples": 50}), tmp_path, 7, (2,)
    )
    assert moons.train.y.dtype == np.float64 and moons.prep.classes is None
    assert moons.sources == {
        "training": "dataset moons (n_samples=50, noise=0.1, seed=7)"
    }
    again = load_data(data_spec(dataset="moons"), tmp_path, 7, (2,))
    assert again.train.x.shape == (1000, 2)
    with pytest.raises(DataError) as info:
        load_data(data_spec(dataset="iris"), tmp_path, 0, (3,))
    assert str(info.value) == (
        "training dataset iris: model.input_shape [3] needs 3 "
        "feature values per row, but dataset iris has 4 features"
    )
    # a validation *file* with a shipped dataset is refused by the spec itself
    with pytest.raises(ValidationError, match="use `validation_split`"):
        data_spec(dataset="iris", validation="v.csv")


def test_unknown_table():
    with pytest.raises(KeyError):
        read_table("titanic")


def test_shipped_files_match_recorded_checksums():
    """nncli/datasets/README.md records these; a change to the data must update it."""
    from importlib import resources

    folder = resources.files("nncli.datasets").joinpath("data")
    readme = resources.files("nncli.datasets").joinpath("README.md").read_text("utf-8")
    for name in ("iris.csv", "breast_cancer.csv", "digits.csv", "elnino.csv"):
        digest = hashlib.sha256(folder.joinpath(name).read_bytes()).hexdigest()
        assert f"{digest}  data/{name}" in readme
