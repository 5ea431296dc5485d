"""Reading CSV / NPZ / x+y files: the user cases and the rules behind them."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from pydantic import ValidationError

from nncli.data.sources import load_data, load_file
from nncli.errors import DataError, SpecError

IRIS6 = np.array(
    [
        [5.1, 3.5, 1.4, 0.2],
        [4.9, 3.0, 1.4, 0.2],
        [7.0, 3.2, 4.7, 1.4],
        [6.4, 3.2, 4.5, 1.5],
        [6.3, 3.3, 6.0, 2.5],
        [5.8, 2.7, 5.1, 1.9],
    ]
)


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def error(fn, *args) -> str:
    with pytest.raises(DataError) as info:
        fn(*args)
    message = str(info.value)
    assert "\n" not in message  # every data error is one line
    return message


# ------------------------------------------------------------ CASE-003 / 025 labels


def test_integral_float_labels_equal_int_labels(case_dir, data_spec):
    def y(name):
        spec = data_spec(train=name, target="species")
        return load_data(spec, case_dir("CASE-003"), 0, (4,)).train

    ints, floats = y("train_int.csv"), y("train_float.csv")
    assert ints.y.dtype == floats.y.dtype == np.float64
    assert ints.y.tobytes() == floats.y.tobytes()
    assert ints.x.tobytes() == floats.x.tobytes()
    np.testing.assert_array_equal(ints.x, IRIS6)


def test_string_labels_sorted_mapping_case025(case_dir, data_spec):
    splits = load_data(
        data_spec(train="train.csv", target="species"), case_dir("CASE-025"), 0, (4,)
    )
    assert splits.prep.classes == ["setosa", "versicolor", "virginica"]
    assert splits.prep.label_map() == {"setosa": 0, "versicolor": 1, "virginica": 2}
    assert splits.train.y.dtype == np.int64
    assert splits.train.y.tolist() == [0, 1, 2, 0, 1, 2]
    assert splits.train.classes == splits.prep.classes
    assert (
        "classes of train.csv (sorted): setosa=0, versicolor=1, virginica=2"
        in splits.notes
    )


def test_unseen_validation_label_case025(case_dir, data_spec):
    spec = data_spec(
        train="train.csv", validation="valid_unseen_class.csv", target="species"
    )
    msg = error(load_data, spec, case_dir("CASE-025"), 0, (4,))
    assert msg == (
        "validation file valid_unseen_class.csv: row 2 has label 'iris-unknown', which "
        "the training data does not have; known classes: setosa, versicolor, virginica"
    )


def test_labels_mixing_numbers_and_text(tmp_path, data_spec):
    write(tmp_path / "t.csv", "a,label\n1,0\n2,cat\n3,1\n")
    msg = error(load_data, data_spec(train="t.csv", target="label"), tmp_path, 0, (1,))
    assert msg == (
        "training file t.csv: target column 'label' mixes numbers (row 1: '0') "
        "and text labels (row 2: 'cat'); use one kind"
    )


def test_text_validation_labels_against_numeric_training(tmp_path, data_spec):
    write(tmp_path / "t.csv", "a,label\n1,0\n2,1\n")
    write(tmp_path / "v.csv", "a,label\n1,cat\n")
    spec = data_spec(train="t.csv", validation="v.csv", target="label")
    msg = error(load_data, spec, tmp_path, 0, (1,))
    assert msg.startswith(
        "validation file v.csv: the target holds text labels (row 1: 'cat')"
    )


def test_numeric_validation_labels_against_class_names(tmp_path, data_spec):
    write(tmp_path / "t.csv", "a,label\n1,cat\n2,dog\n")
    write(tmp_path / "v.csv", "a,label\n1,0\n")
    spec = data_spec(train="t.csv", validation="v.csv", target="label")
    msg = error(load_data, spec, tmp_path, 0, (1,))
    assert msg == (
        "validation file v.csv: the target holds numbers (row 1: 0) but the "
        "training labels are class names (cat, dog)"
    )


# ------------------------------------------------------------ CASE-014 shapes


def test_row_major_reshape_case014(case_dir, data_spec):
    splits = load_data(
        data_spec(train="train.csv", target="y"), case_dir("CASE-014"), 0, (3, 2)
    )
    x = splits.train.x
    assert x.shape == (2, 3, 2)
    np.testing.assert_array_equal(x[0], [[1, 2], [3, 4], [5, 6]])  # t1=(a, b), t2, t3
    np.testing.assert_array_equal(x[1], [[6, 5], [4, 3], [2, 1]])
    assert splits.prep.feature_names == ["t1_a", "t1_b", "t2_a", "t2_b", "t3_a", "t3_b"]


def test_feature_count_mismatch_case014(case_dir, data_spec):
    msg = error(
        load_data,
        data_spec(train="train_7cols.csv", target="y"),
        case_dir("CASE-014"),
        0,
        (3, 2),
    )
    assert msg == (
        "training file train_7cols.csv: model.input_shape [3, 2] needs 3 × 2 = 6 feature "
        "values per row, but the file has 7 feature columns (all columns except the "
        "target y)"
    )


def test_feature_count_flat_shape(case_dir, data_spec):
    msg = error(
        load_data,
        data_spec(train="train.csv", target="y"),
        case_dir("CASE-014"),
        0,
        (5,),
    )
    assert (
        "model.input_shape [5] needs 5 feature values per row, but the file has 6"
        in msg
    )


# ------------------------------------------------------------ CASE-020 paths


@pytest.fixture
def case020(tmp_path, case_dir):
    """The CASE-020 tree in tmp_path: the real file and a cwd-relative decoy."""
    shutil.copytree(case_dir("CASE-020"), tmp_path / "CASE-020")
    configs = tmp_path / "CASE-020" / "project" / "configs"
    configs.mkdir()
    return tmp_path / "CASE-020"


@pytest.mark.parametrize("cwd", ["project", "project/configs", "/"])
def test_relative_paths_follow_the_spec_dir_case020(
    case020, cwd, monkeypatch, data_spec
):
    monkeypatch.chdir(case020 / cwd)
    spec = data_spec(train="../data/train.csv", target="y")
    splits = load_data(spec, case020 / "project" / "configs", 0, (1,))
    y = splits.train.y
    assert y.tolist() == [2.0, 4.0, 6.0]  # not the decoy's 100, 200, 300
    assert np.mean(y**2) == pytest.approx(18.6666667)
    real = (case020 / "project" / "data" / "train.csv").resolve()
    assert splits.sources == {"training": str(real)}
    assert splits.train.origin == str(real)


def test_relative_spec_dir_is_not_cwd_dependent(case020, monkeypatch, data_spec):
    monkeypatch.chdir(case020 / "project")
    splits = load_data(
        data_spec(train="../data/train.csv", target="y"), "configs", 0, (1,)
    )
    assert splits.train.y.tolist() == [2.0, 4.0, 6.0]


def test_missing_file_shows_written_and_resolved_path_case020(
    case020, monkeypatch, data_spec
):
    monkeypatch.chdir("/")
    configs = case020 / "project" / "configs"
    spec = data_spec(train="../data/does_not_exist.csv", target="y")
    msg = error(load_data, spec, configs, 0, (1,))
    resolved = case020.resolve() / "project" / "data" / "does_not_exist.csv"
    assert msg == (
        f"training file '../data/does_not_exist.csv' not found: resolved to {resolved} "
        "(relative paths are resolved against the spec file's directory, "
        f"{configs.resolve()})"
    )


def test_missing_validation_file_names_role(tmp_path, data_spec):
    write(tmp_path / "t.csv", "a,y\n1,2\n")
    spec = data_spec(train="t.csv", validation="nope.csv", target="y")
    assert error(load_data, spec, tmp_path, 0, (1,)).startswith(
        "validation file 'nope.csv' not found: resolved to "
    )


# ------------------------------------------------------------ CASE-022 missing values


def test_missing_values_refused_listing_each_cell_case022(case_dir, data_spec):
    msg = error(
        load_data,
        data_spec(train="train.csv", target="mpg"),
        case_dir("CASE-022"),
        0,
        (3,),
    )
    assert msg == (
        "training file train.csv has 3 missing values: row 2 column 'horsepower' = '?', "
        "row 4 column 'weight' is empty, row 5 column 'horsepower' = 'NaN'; "
        "set data.missing: drop to skip incomplete rows"
    )


def test_missing_values_dropped_case022(case_dir, data_spec):
    splits = load_data(
        data_spec(train="train.csv", target="mpg", missing="drop"),
        case_dir("CASE-022"),
        0,
        (3,),
    )
    assert splits.train.y.tolist() == [18.0, 19.0, 15.0]
    assert splits.train.rows.tolist() == [1, 3, 6]
    assert np.mean(splits.train.y**2) == pytest.approx(303.333333)
    assert splits.notes == [
        "dropped 3 of 6 training rows with missing values (rows 2, 4, 5) from train.csv"
    ]


@pytest.mark.parametrize("token", ["", "?", "NA", "NaN", "nan", "null", " ? "])
def test_missing_tokens(tmp_path, data_spec, token):
    write(tmp_path / "t.csv", f"a,y\n1,1\n{token},2\n")
    msg = error(load_data, data_spec(train="t.csv", target="y"), tmp_path, 0, (1,))
    assert "has 1 missing value: row 2 column 'a'" in msg


def test_missing_in_target_and_validation(tmp_path, data_spec):
    write(tmp_path / "t.csv", "a,y\n1,1\n2,2\n")
    write(tmp_path / "v.csv", "a,y\n1,?\n2,2\n")
    spec = data_spec(train="t.csv", validation="v.csv", target="y")
    msg = error(load_data, spec, tmp_path, 0, (1,))
    assert msg.startswith(
        "validation file v.csv has 1 missing value: row 1 column 'y' = '?'"
    )
    splits = load_data({**spec, "missing": "drop"}, tmp_path, 0, (1,))
    assert splits.validation.y.tolist() == [2.0]
    assert splits.validation.rows.tolist() == [2]
    assert "dropped 1 of 2 validation rows with missing values (rows 1) from v.csv" in (
        splits.notes
    )


def test_missing_list_is_capped(tmp_path, data_spec):
    write(tmp_path / "t.csv", "a,y\n" + "?,1\n" * 14 + "1,1\n")
    msg = error(load_data, data_spec(train="t.csv", target="y"), tmp_path, 0, (1,))
    assert "has 14 missing values" in msg
    assert "row 10 column 'a'" in msg and "row 11 column" not in msg
    assert ", and 4 more; set data.missing: drop" in msg


def test_dropping_every_row_is_an_error(tmp_path, data_spec):
    write(tmp_path / "t.csv", "a,y\n?,1\n1,\n")
    msg = error(
        load_data,
        data_spec(train="t.csv", target="y", missing="drop"),
        tmp_path,
        0,
        (1,),
    )
    assert msg == (
        "training file t.csv: every row has a missing value, so "
        "data.missing: drop leaves 0 data rows"
    )


# ------------------------------------------------------------ CASE-023 x / y files


def test_xy_row_count_mismatch_case023(case_dir, data_spec):
    msg = error(
        load_data,
        data_spec(x="features.csv", y="labels_4rows.csv"),
        case_dir("CASE-023"),
        0,
        (2,),
    )
    assert msg == (
        "training data: features file features.csv has 5 data rows but labels file "
        "labels_4rows.csv has 4; they need one row per sample"
    )


def test_trailing_blank_line_is_not_a_row_case023(case_dir, data_spec):
    splits = load_data(
        data_spec(x="features.csv", y="labels_5rows_trailing_blank.csv"),
        case_dir("CASE-023"),
        0,
        (2,),
    )
    assert splits.train.x.shape == (5, 2)
    assert splits.train.y.tolist() == [1.0, 1.0, 2.0, 2.0, 2.0]
    assert np.mean(splits.train.y**2) == pytest.approx(2.8)
    assert splits.train.name == "labels_5rows_trailing_blank.csv"
    assert "(features) + " in splits.sources["training"]


def test_xy_missing_drop_keeps_rows_aligned(tmp_path, data_spec):
    write(tmp_path / "x.csv", "a,b\n1,2\n?,4\n5,6\n7,8\n")
    write(tmp_path / "y.csv", "y\n1\n2\n3\nNA\n")
    splits = load_data(
        data_spec(x="x.csv", y="y.csv", missing="drop"), tmp_path, 0, (2,)
    )
    np.testing.assert_array_equal(splits.train.x, [[1, 2], [5, 6]])
    assert splits.train.y.tolist() == [1.0, 3.0]
    assert splits.train.rows.tolist() == [1, 3]


def test_xy_multi_column_labels_are_a_matrix(tmp_path, data_spec):
    write(tmp_path / "x.csv", "a\n1\n2\n")
    write(tmp_path / "y.csv", "c0,c1\n1,0\n0,1\n")
    splits = load_data(data_spec(x="x.csv", y="y.csv"), tmp_path, 0, (1,))
    assert splits.train.y.shape == (2, 2)
    assert splits.prep.target_names == ["c0", "c1"]


def test_xy_with_validation_file_is_refused(tmp_path, data_spec):
    write(tmp_path / "x.csv", "a\n1\n")
    write(tmp_path / "y.csv", "y\n1\n")
    with pytest.raises(ValidationError, match="use `validation_split`"):
        data_spec(x="x.csv", y="y.csv", validation="x.csv")


# ------------------------------------------------------------ CASE-024 empty files


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "header_only.csv",
            "training file header_only.csv has a header row (x, y) but 0 data rows",
        ),
        (
            "zero_bytes.csv",
            (
                "training file zero_bytes.csv is empty (0 bytes): 0 data rows, "
                "and no header row although data.header is true"
            ),
        ),
        (
            "blank_lines.csv",
            "training file blank_lines.csv contains only blank lines: 0 data rows",
        ),
    ],
)
def test_empty_training_files_case024(case_dir, data_spec, name, expected):
    spec = data_spec(train=name, validation="train_ok.csv", target="y")
    assert error(load_data, spec, case_dir("CASE-024"), 0, (1,)) == expected


def test_empty_validation_file_case024(case_dir, data_spec):
    spec = data_spec(train="train_ok.csv", validation="header_only.csv", target="y")
    assert error(load_data, spec, case_dir("CASE-024"), 0, (1,)) == (
        "validation file header_only.csv has a header row (x, y) but 0 data rows"
    )


def test_zero_bytes_without_header(case_dir, data_spec):
    spec = data_spec(train="zero_bytes.csv", target=1, header=False)
    assert error(load_data, spec, case_dir("CASE-024"), 0, (1,)) == (
        "training file zero_bytes.csv is empty (0 bytes): 0 data rows"
    )


# ------------------------------------------------------------ CSV rules


def test_target_required_names_the_columns(case_dir, data_spec):
    msg = error(load_data, data_spec(train="train.csv"), case_dir("CASE-025"), 0, (4,))
    assert msg == (
        "training file train.csv: data.target is not set; name the label column (the "
        "file's columns are: sepal_len, sepal_wid, petal_len, petal_wid, species)"
    )


def test_unknown_target_suggests_close_name(case_dir, data_spec):
    msg = error(
        load_data,
        data_spec(train="train.csv", target="specie"),
        case_dir("CASE-025"),
        0,
        (4,),
    )
    assert msg.startswith(
        "training file train.csv has no column 'specie' (did you mean "
        "'species'?); its columns are: sepal_len,"
    )


def test_target_by_index_and_negative_index(case_dir, data_spec):
    for target in (4, -1):
        splits = load_data(
            data_spec(train="train_int.csv", target=target),
            case_dir("CASE-003"),
            0,
            (4,),
        )
        assert splits.train.y.tolist() == [0, 0, 1, 1, 2, 2]
        assert splits.prep.target_names == ["species"]
    msg = error(
        load_data,
        data_spec(train="train_int.csv", target=5),
        case_dir("CASE-003"),
        0,
        (4,),
    )
    assert (
        "data.target 5 is out of range; the file has 5 columns (0-based indices 0..4)"
        in msg
    )


def test_target_list_gives_matrix(case_dir, data_spec):
    splits = load_data(
        data_spec(train="train_onehot_labels.csv", target=["c0", "c1", "c2"]),
        case_dir("CASE-004"),
        0,
        (4,),
    )
    assert splits.train.y.shape == (6, 3)
    assert splits.train.y.dtype == np.float64
    np.testing.assert_array_equal(splits.train.x, IRIS6)


def test_headerless_file(tmp_path, data_spec):
    write(tmp_path / "t.csv", "1,2,0\n3,4,1\n")
    splits = load_data(
        data_spec(train="t.csv", header=False, target=2), tmp_path, 0, (2,)
    )
    np.testing.assert_array_equal(splits.train.x, [[1, 2], [3, 4]])
    assert splits.prep.feature_names == ["column 0", "column 1"]
    msg = error(
        load_data, data_spec(train="t.csv", header=False, target="y"), tmp_path, 0, (2,)
    )
    assert "data.header is false so columns have no names" in msg


def test_non_numeric_feature_names_file_row_column_value(tmp_path, data_spec):
    write(tmp_path / "t.csv", "a,b,y\n1,2,0\n3,abc,1\n4,inf,1\n")
    msg = error(load_data, data_spec(train="t.csv", target="y"), tmp_path, 0, (2,))
    assert msg == (
        "training file t.csv: 2 cells cannot be used as numbers: row 2 column 'b' = "
        "'abc' is not a number, row 3 column 'b' = 'inf' is not a finite number"
    )


def test_wrong_number_of_cells(tmp_path, data_spec):
    write(tmp_path / "t.csv", "a,b,y\n1,2,0\n3,4\n5,6,7,8\n")
    msg = error(load_data, data_spec(train="t.csv", target="y"), tmp_path, 0, (2,))
    assert msg == (
        "training file t.csv: row 2 has 2 cells but the header has 3 columns "
        "(and 1 more such row)"
    )


def test_blank_lines_inside_are_skipped_and_not_counted(tmp_path, data_spec):
    write(tmp_path / "t.csv", "a,y\n\n1,1\n\n?,2\n")
    msg = error(load_data, data_spec(train="t.csv", target="y"), tmp_path, 0, (1,))
    assert "row 2 column 'a' = '?'" in msg


def test_whitespace_bom_and_crlf(tmp_path, data_spec):
    (tmp_path / "t.csv").write_bytes("\ufeffa , y\r\n 1.5 , cat \r\n2,dog\r\n".encode())
    splits = load_data(data_spec(train="t.csv", target="y"), tmp_path, 0, (1,))
    assert splits.prep.feature_names == ["a"]
    assert splits.prep.classes == ["cat", "dog"]
    assert splits.train.x.ravel().tolist() == [1.5, 2.0]


def test_duplicate_header_names(tmp_path, data_spec):
    write(tmp_path / "t.csv", "a,a,y\n1,2,0\n")
    assert error(
        load_data, data_spec(train="t.csv", target="y"), tmp_path, 0, (2,)
    ) == ("training file t.csv: the header repeats column name(s) a")


def test_not_utf8(tmp_path, data_spec):
    (tmp_path / "t.csv").write_bytes(b"a,y\n1,caf\xe9\n")
    msg = error(load_data, data_spec(train="t.csv", target="y"), tmp_path, 0, (1,))
    assert msg == (
        "training file t.csv is not UTF-8 text (byte 0xe9 at offset 9); "
        "save it as UTF-8"
    )


def test_unknown_extension_needs_format(tmp_path, data_spec):
    write(tmp_path / "t.dat", "a,y\n1,2\n")
    msg = error(load_data, data_spec(train="t.dat", target="y"), tmp_path, 0, (1,))
    assert "cannot tell the format from the extension '.dat'" in msg
    splits = load_data(
        data_spec(train="t.dat", target="y", format="csv"), tmp_path, 0, (1,)
    )
    assert splits.train.y.tolist() == [2.0]


def test_validation_columns_must_match_training(tmp_path, data_spec):
    write(tmp_path / "t.csv", "a,b,y\n1,2,0\n")
    write(tmp_path / "v.csv", "b,a,y\n1,2,0\n")
    spec = data_spec(train="t.csv", validation="v.csv", target="y")
    assert error(load_data, spec, tmp_path, 0, (2,)) == (
        "validation file v.csv: feature columns (b, a) differ from the training file's (a, b)"
    )


# ------------------------------------------------------------ NPZ


def test_npz_reads_and_reshapes(tmp_path, data_spec):
    x = np.arange(12.0).reshape(2, 6)
    np.savez(tmp_path / "d.npz", x=x, y=np.array([0, 1]))
    splits = load_data(data_spec(train="d.npz"), tmp_path, 0, (3, 2))
    np.testing.assert_array_equal(splits.train.x, x.reshape(2, 3, 2))
    assert splits.train.y.dtype == np.float64 and splits.train.y.tolist() == [0.0, 1.0]


def test_npz_missing_key(tmp_path, data_spec):
    np.savez(tmp_path / "d.npz", features=np.zeros((2, 1)), y=np.zeros(2))
    assert error(load_data, data_spec(train="d.npz"), tmp_path, 0, (1,)) == (
        "training file d.npz has no array 'x'; it needs 'x' and 'y' "
        "(found: features, y); name another with data.x_array"
    )


def keras_npz(path):
    """Arrays named as keras.datasets' mnist.npz names them."""
    rng = np.random.default_rng(0)
    np.savez(
        path,
        x_train=rng.normal(size=(6, 2)),
        y_train=np.array([0, 1, 0, 1, 0, 1]),
        x_test=rng.normal(size=(4, 2)),
        y_test=np.array([1, 1, 0, 0]),
    )


def test_npz_arrays_are_named_by_x_array_and_y_array(tmp_path, data_spec):
    keras_npz(tmp_path / "m.npz")
    spec = data_spec(train="m.npz", x_array="x_test", y_array="y_test")
    splits = load_data(spec, tmp_path, 0, (2,))
    with np.load(tmp_path / "m.npz") as f:
        np.testing.assert_array_equal(splits.train.x, f["x_test"])
        assert splits.train.y.tolist() == [1, 1, 0, 0]
    prep = splits.prep
    ds = load_file("m.npz", spec, tmp_path, prep, "evaluation")
    assert len(ds.x) == 4
    ds = load_file("m.npz", spec, tmp_path, prep, "prediction", target_required=False)
    assert ds.x.shape == (4, 2) and ds.y.shape == (4, 0)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"x_array": "images"},
            "training file m.npz has no array 'images' (data.x_array); it needs "
            "'images' and 'y' (found: x_train, y_train, x_test, y_test)",
        ),
        (
            {"x_array": "x_train"},
            "training file m.npz has no array 'y'; it needs 'x_train' and 'y' "
            "(found: x_train, y_train, x_test, y_test); name another with "
            "data.y_array",
        ),
        (
            {"x_array": "x_train", "y_array": "labels"},
            "training file m.npz has no array 'labels' (data.y_array); it needs "
            "'x_train' and 'labels' (found: x_train, y_train, x_test, y_test)",
        ),
    ],
)
def test_a_missing_npz_array_lists_the_arrays_the_file_has(
    tmp_path, data_spec, fields, message
):
    keras_npz(tmp_path / "m.npz")
    spec = data_spec(train="m.npz", **fields)
    assert error(load_data, spec, tmp_path, 0, (2,)) == message


def test_npz_array_names_on_a_csv_file_are_a_spec_error(tmp_path, data_spec):
    write(tmp_path / "c.csv", "a,b,y\n1,2,0\n3,4,1\n")
    with pytest.raises(SpecError) as e:
        load_data(data_spec(train="c.csv", y_array="y"), tmp_path, 0, (2,))
    (issue,) = e.value.issues
    assert issue.path == "data.y_array" and "c.csv is CSV" in issue.message


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"dataset": "moons", "x_array": "a"}, "shipped datasets know their own"),
        ({"x": "a.csv", "y": "b.csv", "y_array": "a"}, "`x` and `y` are CSV files"),
        ({"train": "m.npz", "x_array": "a", "y_array": "a"}, "both name array 'a'"),
        ({"train": "m.npz", "x_array": ""}, "at least 1 character"),
    ],
)
def test_npz_array_names_are_checked_by_the_schema(data_spec, fields, message):
    with pytest.raises(ValidationError) as e:
        data_spec(**fields)
    assert message in str(e.value)


def test_predict_reads_npz_without_y(tmp_path, data_spec):
    np.savez(
        tmp_path / "t.npz", x=np.arange(8.0).reshape(4, 2), y=np.array([0, 1, 0, 1])
    )
    spec = data_spec(train="t.npz")
    prep = load_data(spec, tmp_path, 0, (2,)).prep
    np.savez(tmp_path / "p.npz", x=np.ones((3, 2)))  # no y at all
    ds = load_file("p.npz", spec, tmp_path, prep, "prediction", target_required=False)
    assert ds.x.shape == (3, 2) and ds.y.shape == (3, 0)
    np.savez(
        tmp_path / "q.npz", x=np.ones((2, 2)), y=np.array([7, 9])
    )  # unseen: ignored
    ds = load_file("q.npz", spec, tmp_path, prep, "prediction", target_required=False)
    assert ds.y.shape == (2, 0)


def test_npz_nan_and_inf(tmp_path, data_spec):
    x = np.array([[1.0], [np.nan], [3.0]])
    np.savez(tmp_path / "d.npz", x=x, y=np.array([0.0, 1.0, np.inf]))
    spec = data_spec(train="d.npz")
    assert error(load_data, spec, tmp_path, 0, (1,)) == (
        "training file d.npz: row 3 (y[2]) holds inf"
    )
    np.savez(tmp_path / "d.npz", x=x, y=np.zeros(3))
    assert error(load_data, spec, tmp_path, 0, (1,)) == (
        "training file d.npz: row 2 (x[1]) holds NaN; set data.missing: drop to skip "
        "such rows"
    )
    splits = load_data({**spec, "missing": "drop"}, tmp_path, 0, (1,))
    assert splits.train.rows.tolist() == [1, 3]


def test_npz_text_labels_and_bad_inputs(tmp_path, data_spec):
    np.savez(tmp_path / "d.npz", x=np.zeros((3, 1)), y=np.array(["b", "a", "b"]))
    splits = load_data(data_spec(train="d.npz"), tmp_path, 0, (1,))
    assert splits.prep.classes == ["a", "b"] and splits.train.y.tolist() == [1, 0, 1]
    np.savez(tmp_path / "d.npz", x=np.zeros((3, 1)), y=np.zeros(2))
    assert "x has 3 rows but y has 2" in error(
        load_data, data_spec(train="d.npz"), tmp_path, 0, (1,)
    )
    np.savez(tmp_path / "d.npz", x=np.zeros((0, 1)), y=np.zeros(0))
    assert "has 0 data rows" in error(
        load_data, data_spec(train="d.npz"), tmp_path, 0, (1,)
    )
    write(tmp_path / "e.npz", "not a zip")
    assert "is not an .npz archive" in error(
        load_data, data_spec(train="e.npz"), tmp_path, 0, (1,)
    )
    np.savez(tmp_path / "d.npz", x=np.zeros((2, 7)), y=np.zeros(2))
    assert "needs 3 × 2 = 6 feature values per row, but x has 7 per row" in error(
        load_data, data_spec(train="d.npz"), tmp_path, 0, (3, 2)
    )
    assert "remove data.target" in error(
        load_data, data_spec(train="d.npz", target="y"), tmp_path, 0, (7,)
    )


# ------------------------------------------------------------ eval / predict files


def test_load_file_reuses_training_mapping_and_scaling(case_dir, data_spec, tmp_path):
    spec = data_spec(train="train.csv", target="species", standardize=True)
    splits = load_data(spec, case_dir("CASE-025"), 0, (4,))
    msg = error(
        load_file, "valid_unseen_class.csv", spec, case_dir("CASE-025"), splits.prep
    )
    assert msg.startswith(
        "evaluation file valid_unseen_class.csv: row 2 has label 'iris-unknown'"
    )
    write(
        tmp_path / "e.csv",
        "sepal_len,sepal_wid,petal_len,petal_wid,species\n5.1,3.5,1.4,0.2,virginica\n",
    )
    ds = load_file(str(tmp_path / "e.csv"), spec, case_dir("CASE-025"), splits.prep)
    assert ds.y.tolist() == [2]
    np.testing.assert_allclose(
        ds.x, splits.prep.apply(np.array([[5.1, 3.5, 1.4, 0.2]]))
    )
    write(
        tmp_path / "p.csv", "sepal_len,sepal_wid,petal_len,petal_wid\n5.1,3.5,1.4,0.2\n"
    )
    ds = load_file(
        str(tmp_path / "p.csv"),
        spec,
        tmp_path,
        splits.prep,
        "prediction",
        target_required=False,
    )
    assert ds.y.shape == (1, 0) and ds.x.shape == (1, 4)


def test_load_file_defaults_to_training_target_names(tmp_path, data_spec):
    splits = load_data(data_spec(dataset="iris"), tmp_path, 0, (4,))
    write(
        tmp_path / "e.csv",
        "sepal_length,sepal_width,petal_length,petal_width,species\n1,2,3,4,versicolor\n",
    )
    ds = load_file("e.csv", data_spec(dataset="iris"), tmp_path, splits.prep)
    assert ds.y.tolist() == [1] and ds.classes == ["setosa", "versicolor", "virginica"]
    np.savez(tmp_path / "e.npz", x=np.ones((2, 4)), y=np.array(["setosa", "virginica"]))
    ds = load_file("e.npz", data_spec(dataset="iris"), tmp_path, splits.prep)
    assert ds.y.tolist() == [0, 2]


def test_validation_npz_with_csv_training_skips_name_check(tmp_path, data_spec):
    write(tmp_path / "t.csv", "a,b,y\n1,2,0\n")
    np.savez(tmp_path / "v.npz", x=np.ones((1, 2)), y=np.zeros(1))
    spec = data_spec(train="t.csv", validation="v.npz", target="y")
    assert "remove data.target" in error(load_data, spec, tmp_path, 0, (2,))


def test_load_file_predict_headerless(tmp_path, data_spec):
    write(tmp_path / "t.csv", "1,2,0\n3,4,1\n")
    spec = data_spec(train="t.csv", header=False, target=2)
    prep = load_data(spec, tmp_path, 0, (2,)).prep
    write(tmp_path / "p.csv", "5,6\n")
    ds = load_file("p.csv", spec, tmp_path, prep, "prediction", target_required=False)
    assert ds.x.tolist() == [[5.0, 6.0]] and ds.y.shape == (1, 0)
    # a target column is set aside unread: empty or unseen labels are no error
    write(tmp_path / "p.csv", "5,6,1\n7,8,\n")
    ds = load_file("p.csv", spec, tmp_path, prep, "prediction", target_required=False)
    assert ds.x.tolist() == [[5.0, 6.0], [7.0, 8.0]] and ds.y.shape == (2, 0)


def test_space_before_a_quoted_cell_is_ignored(tmp_path, data_spec):
    write(tmp_path / "t.csv", 'a, b ,y\n 1 , "2",0\n3, "4" ,1\n')
    splits = load_data(data_spec(train="t.csv", target="y"), tmp_path, 0, (2,))
    assert splits.train.x.tolist() == [[1.0, 2.0], [3.0, 4.0]]


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        (
            {"x_train": np.array(5.0), "y_train": np.zeros(2)},
            "training file d.npz: x_train must be an array of rows, shape (n, ...), "
            "got a single value (shape [])",
        ),
        (
            {"x_train": np.array([[1, 2]] * 2, dtype=object), "y_train": np.zeros(2)},
            "training file d.npz: x_train is an array of Python objects, which nncli "
            "does not load (that needs pickle); save it with a numeric or text "
            "dtype, e.g. np.asarray(a, dtype=float)",
        ),
        (
            {"x_train": np.zeros((2, 2)), "y_train": np.array(["a", 1], dtype=object)},
            "training file d.npz: y_train is an array of Python objects",
        ),
    ],
)
def test_npz_single_values_and_object_arrays_are_named(
    tmp_path, data_spec, arrays, message
):
    np.savez(tmp_path / "d.npz", **arrays)
    spec = data_spec(train="d.npz", x_array="x_train", y_array="y_train")
    assert error(load_data, spec, tmp_path, 0, (2,)).startswith(message)
