"""Targets against loss and output layer (CASE-003, CASE-004 and their kind)."""

from __future__ import annotations

import numpy as np
import pytest

from nncli.data.checks import check_targets
from nncli.data.sources import Dataset, load_data
from nncli.errors import DataError

SPARSE = ("sparse", "sparse_categorical_crossentropy")
ONEHOT = ("onehot", "categorical_crossentropy")
BINARY = ("binary", "binary_crossentropy")
REAL = ("real", "mse")
HINGE = ("signed", "hinge")
POISSON = ("nonnegative", "poisson")
MAPE = ("nonzero", "mean_absolute_percentage_error")


def dataset(y, role="training", name="t.csv", classes=None) -> Dataset:
    y = np.asarray(y)
    return Dataset(
        x=np.zeros((len(y), 1)),
        y=y,
        origin=f"/abs/{name}",
        role=role,
        rows=np.arange(1, len(y) + 1),
        name=name,
        classes=classes,
    )


def check(ds, kind_loss, units, activation="softmax"):
    kind, loss = kind_loss
    return check_targets(ds, kind, units, activation, loss)


def refused(ds, kind_loss, units, activation="softmax") -> str:
    with pytest.raises(DataError) as info:
        check(ds, kind_loss, units, activation)
    assert "\n" not in str(info.value)
    return str(info.value)


def case003(case_dir, data_spec, name):
    spec = data_spec(train=name, target="species")
    return load_data(spec, case_dir("CASE-003"), 0, (4,)).train


# ------------------------------------------------------------ sparse (CASE-003)


def test_integral_floats_are_bit_identical_to_ints_case003(case_dir, data_spec):
    ints = check(case003(case_dir, data_spec, "train_int.csv"), SPARSE, 3)
    floats = check(case003(case_dir, data_spec, "train_float.csv"), SPARSE, 3)
    assert ints.y.dtype == floats.y.dtype == np.int64
    assert ints.y.tobytes() == floats.y.tobytes()
    assert ints.y.tolist() == [0, 0, 1, 1, 2, 2]


def test_one_based_labels_case003(case_dir, data_spec):
    msg = refused(case003(case_dir, data_spec, "train_one_based.csv"), SPARSE, 3)
    assert msg == (
        "training data train_one_based.csv: row 5 has label 3, outside [0, 3) for the "
        "3-unit output (and 1 more row); the labels look 1-based (min label 1, max label "
        "3 = number of classes): subtract 1 so they start at 0"
    )


def test_fractional_label_case003(case_dir, data_spec):
    msg = refused(case003(case_dir, data_spec, "train_fraction.csv"), SPARSE, 3)
    assert msg == (
        "training data train_fraction.csv: row 4 has label 1.5, which is not a whole "
        "number; sparse_categorical_crossentropy needs integer class ids in [0, 3) for "
        "the 3-unit output"
    )


def test_negative_label_case003(case_dir, data_spec):
    msg = refused(case003(case_dir, data_spec, "train_negative.csv"), SPARSE, 3)
    assert msg == (
        "training data train_negative.csv: row 2 has label -1, outside [0, 3) "
        "for the 3-unit output; class ids start at 0"
    )


def test_too_large_label_without_one_based_hint():
    msg = refused(dataset([0, 1, 7]), SPARSE, 3)
    assert "row 3 has label 7, outside [0, 3)" in msg and "1-based" not in msg


def test_rows_in_messages_are_source_rows():
    ds = dataset([0, 5], role="validation", name="v.csv")
    ds.rows = np.array([4, 9])  # e.g. after dropping rows or a split
    assert refused(ds, SPARSE, 3).startswith("validation data v.csv: row 9 has label 5")


def test_sparse_accepts_single_column_matrix():
    assert check(dataset([[0.0], [2.0]]), SPARSE, 3).y.tolist() == [0, 2]


# ------------------------------------------------------------ one-hot vs ids (CASE-004)


def test_integer_ids_with_categorical_case004a(case_dir, data_spec):
    spec = data_spec(train="train_int_labels.csv", target="label")
    ds = load_data(spec, case_dir("CASE-004"), 0, (4,)).train
    assert refused(ds, ONEHOT, 3) == (
        "training data train_int_labels.csv: categorical_crossentropy expects one-hot "
        "targets with 3 columns (one per class), but got 1 column of integer class ids; "
        "use sparse_categorical_crossentropy for integer labels, or give 3 one-hot "
        "target columns"
    )


@pytest.mark.parametrize("kind_loss", [ONEHOT, SPARSE])
def test_single_softmax_unit_case004b(kind_loss):
    msg = refused(dataset([0, 1, 0]), kind_loss, 1, "softmax")
    assert msg == (
        f"model: a softmax over 1 unit always outputs 1.0, so {kind_loss[1]} is 0 with "
        "zero gradient whatever the data; for two classes use 1 unit with activation "
        "sigmoid and binary_crossentropy, or 2 softmax units"
    )


def test_single_unit_categorical_with_other_activation():
    assert "cannot tell classes apart" in refused(dataset([0, 1]), ONEHOT, 1, "sigmoid")


def test_onehot_with_sparse_case004c(case_dir, data_spec):
    spec = data_spec(train="train_onehot_labels.csv", target=["c0", "c1", "c2"])
    ds = load_data(spec, case_dir("CASE-004"), 0, (4,)).train
    assert refused(ds, SPARSE, 3) == (
        "training data train_onehot_labels.csv: sparse_categorical_crossentropy expects "
        "one integer class label per row, but the target has 3 columns (one-hot?); use "
        "categorical_crossentropy for one-hot targets, or give a single label column"
    )


def test_onehot_control_case004d(case_dir, data_spec):
    spec = data_spec(train="train_onehot_labels.csv", target=["c0", "c1", "c2"])
    ds = check(load_data(spec, case_dir("CASE-004"), 0, (4,)).train, ONEHOT, 3)
    np.testing.assert_array_equal(ds.y, np.eye(3)[[0, 0, 1, 1, 2, 2]])
    assert ds.y.dtype == np.float64


def test_onehot_column_count_and_row_sums():
    assert (
        "needs one target column per output unit (3), but the target has 2 columns"
        in (refused(dataset(np.eye(2)), ONEHOT, 3))
    )
    assert refused(dataset([[1.0, 0.0], [0.0, 0.0]]), ONEHOT, 2).startswith(
        "training data t.csv: row 2 of the one-hot target sums to 0, not 1"
    )
    assert "row 1 has target 2, outside [0, 1]" in refused(
        dataset([[2.0, -1.0]]), ONEHOT, 2
    )
    soft = check(dataset([[0.9, 0.1], [0.05, 0.95]]), ONEHOT, 2)  # label smoothing
    assert soft.y.shape == (2, 2)


# ------------------------------------------------------------ binary and regression


def test_binary_targets_become_columns():
    ds = check(dataset([0.0, 1.0, 0.25]), BINARY, 1, "sigmoid")
    assert ds.y.shape == (3, 1) and ds.y.dtype == np.float64


def test_binary_out_of_range_names_row_and_value():
    assert refused(dataset([0.0, 1.0, 2.0]), BINARY, 1, "sigmoid") == (
        "training data t.csv: row 3 has target 2, outside [0, 1]; binary_crossentropy "
        "needs 0/1 labels or probabilities"
    )
    assert (
        "needs one target column per output unit (3), but the target has 1 column"
        in (refused(dataset([0.0, 1.0]), BINARY, 3, "sigmoid"))
    )


def test_regression_column_count():
    assert check(dataset([1.5, -2.0]), REAL, 1, "linear").y.shape == (2, 1)
    assert check(dataset([[1.0, 2.0]]), REAL, 2, "linear").y.shape == (1, 2)
    assert (
        "mse needs one target column per output unit (2), but the target has 1 column"
        in (refused(dataset([1.0]), REAL, 2, "linear"))
    )


def test_hinge_takes_minus_one_one_or_zero_one_labels():
    for labels in ([-1.0, 1.0, 1.0], [0.0, 1.0, 0.0], [1.0, 1.0, 1.0]):
        ds = check(dataset(labels), HINGE, 1, "tanh")
        assert ds.y.tolist() == [[v] for v in labels] and ds.y.dtype == np.float64
    two_units = check(dataset([[0.0, 1.0], [1.0, 0.0]]), HINGE, 2, "linear")
    assert two_units.y.shape == (2, 2)


def test_hinge_refuses_other_labels_and_a_mix_of_codings():
    assert refused(dataset([1.0, 0.5, 2.0]), HINGE, 1, "linear") == (
        "training data t.csv: row 2 has target 0.5 (and 1 more row); hinge takes "
        "-1/1 or 0/1 labels"
    )
    assert refused(dataset([1.0, 0.0, -1.0, 0.0]), HINGE, 1, "linear") == (
        "training data t.csv: row 3 has label -1 but row 2 has label 0; hinge takes "
        "-1/1 or 0/1 labels, not a mix"
    )
    assert "needs one target column per output unit (2)" in refused(
        dataset([1.0, -1.0]), HINGE, 2, "linear"
    )


def test_counts_must_not_be_negative():
    assert check(dataset([0.0, 3.0, 0.5]), POISSON, 1, "exponential").y.shape == (3, 1)
    assert refused(dataset([[0.0, 2.0], [1.0, -3.0]]), POISSON, 2, "softplus") == (
        "training data t.csv: row 2 has target -3; poisson needs targets >= 0 "
        "(counts, amounts)"
    )
    msle = ("nonnegative", "mean_squared_logarithmic_error")
    assert "row 1 has target -0.1" in refused(dataset([-0.1, 2.0]), msle, 1, "relu")


def test_percentage_error_refuses_zero_targets():
    assert check(dataset([-2.0, 1e-3]), MAPE, 1, "linear").y.tolist() == [
        [-2.0],
        [1e-3],
    ]
    assert refused(dataset([1.0, 0.0, 0.0]), MAPE, 1, "linear") == (
        "training data t.csv: row 2 has target 0 (and 1 more row); "
        "mean_absolute_percentage_error divides by the target, so a 0 target has no "
        "percentage error (Keras would divide by 1e-7)"
    )


def test_every_loss_kind_is_known_to_the_checks():
    from nncli.data.checks import KINDS
    from nncli.engine.losses import losses

    assert {losses.get(n).target_kind for n in losses.names()} == set(KINDS)


# ------------------------------------------------------------ text labels (CASE-025)


def named(ids, classes):
    return dataset(np.array(ids, dtype=np.int64), classes=classes)


def test_class_names_per_loss():
    iris = ["setosa", "versicolor", "virginica"]
    assert check(named([2, 0], iris), SPARSE, 3).y.tolist() == [2, 0]
    np.testing.assert_array_equal(
        check(named([2, 0], iris), ONEHOT, 3).y, [[0, 0, 1], [1, 0, 0]]
    )
    two = check(named([1, 0, 1], ["benign", "malignant"]), BINARY, 1, "sigmoid")
    assert two.y.tolist() == [[1.0], [0.0], [1.0]]
    signed = check(named([1, 0, 1], ["no", "yes"]), HINGE, 1, "linear")
    assert signed.y.tolist() == [[1.0], [0.0], [1.0]]  # hinge reads 0 as -1


def test_class_names_refusals():
    iris = ["setosa", "versicolor", "virginica"]
    assert refused(named([0, 1], iris), REAL, 1, "linear") == (
        "training data t.csv: the target holds class names (setosa, versicolor, "
        "virginica), but mse is a regression loss that needs numbers"
    )
    for kind_loss in (POISSON, MAPE):
        assert "regression loss that needs numbers" in refused(
            named([0, 1], iris), kind_loss, 1, "linear"
        )
    assert "needs exactly 2 classes and 1 output unit" in refused(
        named([0, 1], iris), HINGE, 1, "linear"
    )
    assert "needs exactly 2 classes and 1 output unit, but there are 3 classes" in (
        refused(named([0, 1], iris), BINARY, 1, "sigmoid")
    )
    assert refused(named([0, 1], iris), SPARSE, 2) == (
        "training data t.csv: the target has 3 classes (setosa, versicolor, virginica) "
        "but the output layer has 2 units; give it 3 units"
    )


def test_validation_role_is_named(case_dir, data_spec):
    spec = data_spec(
        train="train_int.csv", validation="train_one_based.csv", target="species"
    )
    splits = load_data(spec, case_dir("CASE-003"), 0, (4,))
    check(splits.train, SPARSE, 3)
    assert refused(splits.validation, SPARSE, 3).startswith(
        "validation data train_one_based.csv: row 5 has label 3"
    )


def test_dataset_unchanged_apart_from_y():
    ds = dataset([0.0, 1.0])
    out = check(ds, SPARSE, 2)
    assert out is not ds and out.x is ds.x and out.rows is ds.rows
    assert ds.y.dtype == np.float64  # the input is not modified


def test_unknown_kind_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown target kind"):
        check_targets(dataset([0]), "ordinal", 1, "linear", "x")
