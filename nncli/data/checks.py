"""Targets against the loss and the output layer, checked before any training step.

`check_targets` returns the dataset with `y` in the form its loss wants, or
raises one DataError line naming the role, the file, the row and the value:

- "sparse" (sparse_categorical_crossentropy): (n,) int64 ids in [0, units).
  Whole-number floats (1.0) are the same as ints; 1.5, -1 or >= units are
  refused, never cast, wrapped or clipped (CASE-003).
- "onehot" (categorical_crossentropy): (n, units) float64 rows in [0, 1]
  summing to 1. One column of integer ids is refused with a pointer to the
  sparse loss (CASE-004a); text labels are one-hot encoded.
- "binary" (binary_crossentropy): (n, units) float64 in [0, 1] (soft labels
  allowed, as in Keras); text labels of 2 classes become 0/1.
- "signed" (hinge, squared_hinge): (n, units) float64 labels, all -1/1 or all
  0/1 (Keras turns 0/1 into -1/1 when a batch holds nothing else, so a mix of
  -1 and 0 would mean different things in different batches); text labels of
  2 classes become 0/1.
- "nonnegative" (poisson, msle): (n, units) float64 >= 0 (counts, amounts); a
  negative count leaves poisson unbounded below (pred -> 0 gives -inf), and
  Keras's msle would silently raise it to 1e-7.
- "nonzero" (mape): (n, units) float64, none 0 (Keras divides by 1e-7 there,
  a 1e9-times error).
- "real" (regression losses): (n, units) float64; text labels are refused.
- A softmax over 1 unit is always 1.0, so a categorical loss is 0 whatever the
  data: refused (CASE-004b).

`check_inputs` does the same for the features of a model that starts with an
embedding: every value must be a token id, a whole number in [0, input_dim),
and the features come back as int64 ids.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from nncli.data.sources import Dataset, plural
from nncli.errors import DataError

KINDS = ("sparse", "onehot", "binary", "signed", "nonnegative", "nonzero", "real")
REGRESSION = ("real", "nonnegative", "nonzero")


def check_targets(
    ds: Dataset, target_kind: str, units: int, output_activation: str, loss_name: str
) -> Dataset:
    """`ds` with y converted for the loss; a DataError when the targets cannot fit.

    Args:
        ds: training or validation data from `load_data`.
        target_kind: the loss's `target_kind` (one of KINDS).
        units: size of the output layer (last axis of the predictions).
        output_activation: the last layer's activation name ("softmax", "linear", ...).
        loss_name: the loss's registered name, for messages.
    """
    if target_kind not in KINDS:
        raise ValueError(
            f"unknown target kind {target_kind!r} (known: {', '.join(KINDS)})"
        )
    _check_output(target_kind, units, output_activation, loss_name)
    where = f"{ds.role} data {ds.name or ds.origin}"
    if ds.classes is not None:
        y = _from_classes(ds, where, target_kind, units, loss_name)
    else:
        convert = {
            "sparse": _sparse,
            "onehot": _onehot,
            "binary": _binary,
            "signed": _signed,
            "nonnegative": _nonnegative,
            "nonzero": _nonzero,
            "real": _real,
        }
        y = convert[target_kind](ds, where, units, loss_name)
    return dataclasses.replace(ds, y=y)


def _check_output(kind: str, units: int, activation: str, loss: str) -> None:
    if units != 1 or kind not in ("sparse", "onehot"):
        return
    if activation == "softmax":
        why = (
            f"a softmax over 1 unit always outputs 1.0, so {loss} is 0 with zero "
            "gradient whatever the data"
        )
    elif kind == "onehot":
        why = f"{loss} over a single output unit cannot tell classes apart"
    else:
        why = f"{loss} with 1 output unit allows only class 0"
    raise DataError(
        f"model: {why}; for two classes use 1 unit with activation sigmoid and "
        "binary_crossentropy, or 2 softmax units"
    )


def _columns(y: np.ndarray) -> int:
    return 1 if y.ndim == 1 else y.shape[1]


def _first(mask: np.ndarray, ds: Dataset, values: np.ndarray) -> tuple[int, str, str]:
    """(row number, value text, ' (and N more rows)') of the first True in mask."""
    idx = np.flatnonzero(mask)
    more = f" (and {plural(len(idx) - 1, 'more row')})" if len(idx) > 1 else ""
    return int(ds.rows[idx[0]]), f"{values[idx[0]]:g}", more


def _sparse(ds: Dataset, where: str, units: int, loss: str) -> np.ndarray:
    if _columns(ds.y) > 1:
        raise DataError(
            f"{where}: {loss} expects one integer class label per row, but the target "
            f"has {_columns(ds.y)} columns (one-hot?); use categorical_crossentropy for "
            "one-hot targets, or give a single label column"
        )
    y = ds.y.reshape(len(ds.y))  # (n,)
    span = f"[0, {units})"
    if (y != np.round(y)).any():
        row, v, more = _first(y != np.round(y), ds, y)
        raise DataError(
            f"{where}: row {row} has label {v}, which is not a whole number{more}; "
            f"{loss} needs integer class ids in {span} for the {units}-unit output"
        )
    if (y < 0).any():
        row, v, more = _first(y < 0, ds, y)
        raise DataError(
            f"{where}: row {row} has label {v}, outside {span} for the {units}-unit "
            f"output{more}; class ids start at 0"
        )
    if (y >= units).any():
        row, v, more = _first(y >= units, ds, y)
        hint = ""
        if y.min() == 1 and y.max() == units:
            hint = (
                f"; the labels look 1-based (min label 1, max label {units} = number "
                "of classes): subtract 1 so they start at 0"
            )
        raise DataError(
            f"{where}: row {row} has label {v}, outside {span} for the {units}-unit "
            f"output{more}{hint}"
        )
    return y.astype(np.int64)


def _onehot(ds: Dataset, where: str, units: int, loss: str) -> np.ndarray:
    k = _columns(ds.y)
    if k == 1:
        ints = bool((ds.y == np.round(ds.y)).all())
        got = "1 column of integer class ids" if ints else "1 column"
        raise DataError(
            f"{where}: {loss} expects one-hot targets with {units} columns (one per "
            f"class), but got {got}; use sparse_categorical_crossentropy for integer "
            f"labels, or give {units} one-hot target columns"
        )
    _need_columns(k, units, where, loss)
    y = ds.y
    _in_unit_interval(y, ds, where, loss)
    sums = y.sum(axis=1)
    bad = np.abs(sums - 1.0) > 1e-6
    if bad.any():
        row, v, more = _first(bad, ds, sums)
        raise DataError(
            f"{where}: row {row} of the one-hot target sums to {v}, not 1{more}; "
            f"{loss} needs exactly one 1 per row (or probabilities summing to 1)"
        )
    return y.astype(np.float64)


def _binary(ds: Dataset, where: str, units: int, loss: str) -> np.ndarray:
    y = ds.y.reshape(len(ds.y), -1)  # (n, k)
    _need_columns(y.shape[1], units, where, loss)
    _in_unit_interval(y, ds, where, loss)
    return y.astype(np.float64)


def _real(ds: Dataset, where: str, units: int, loss: str) -> np.ndarray:
    y = ds.y.reshape(len(ds.y), -1)  # (n, k)
    _need_columns(y.shape[1], units, where, loss)
    return y.astype(np.float64)


def _signed(ds: Dataset, where: str, units: int, loss: str) -> np.ndarray:
    y = _real(ds, where, units, loss)
    labels = "-1/1 or 0/1 labels"
    _refuse_cells(~np.isin(y, (-1.0, 0.0, 1.0)), y, ds, where, f"{loss} takes {labels}")
    minus, zero = (np.flatnonzero((y == v).any(axis=1)) for v in (-1.0, 0.0))
    if len(minus) and len(zero):
        raise DataError(
            f"{where}: row {int(ds.rows[minus[0]])} has label -1 but row "
            f"{int(ds.rows[zero[0]])} has label 0; {loss} takes {labels}, not a mix"
        )
    return y


def _nonnegative(ds: Dataset, where: str, units: int, loss: str) -> np.ndarray:
    y = _real(ds, where, units, loss)
    _refuse_cells(y < 0, y, ds, where, f"{loss} needs targets >= 0 (counts, amounts)")
    return y


def _nonzero(ds: Dataset, where: str, units: int, loss: str) -> np.ndarray:
    y = _real(ds, where, units, loss)
    why = (
        f"{loss} divides by the target, so a 0 target has no percentage error "
        "(Keras would divide by 1e-7)"
    )
    _refuse_cells(y == 0, y, ds, where, why)
    return y


def _refuse_cells(
    bad: np.ndarray, y: np.ndarray, ds: Dataset, where: str, why: str
) -> None:
    """A DataError naming the first row with a bad cell, its value and `why`."""
    rows = bad.any(axis=1)
    if not rows.any():
        return
    i = int(np.flatnonzero(rows)[0])
    more = f" (and {plural(int(rows.sum()) - 1, 'more row')})" if rows.sum() > 1 else ""
    raise DataError(
        f"{where}: row {int(ds.rows[i])} has target {y[i][bad[i]][0]:g}{more}; {why}"
    )


def _need_columns(k: int, units: int, where: str, loss: str) -> None:
    if k != units:
        raise DataError(
            f"{where}: {loss} needs one target column per output unit ({units}), but "
            f"the target has {plural(k, 'column')}"
        )


def _in_unit_interval(y: np.ndarray, ds: Dataset, where: str, loss: str) -> None:
    bad = ((y < 0) | (y > 1)).any(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        v = y[i][(y[i] < 0) | (y[i] > 1)][0]
        more = (
            f" (and {plural(int(bad.sum()) - 1, 'more row')})" if bad.sum() > 1 else ""
        )
        raise DataError(
            f"{where}: row {int(ds.rows[i])} has target {v:g}, outside [0, 1]{more}; "
            f"{loss} needs 0/1 labels or probabilities"
        )


def _from_classes(
    ds: Dataset, where: str, kind: str, units: int, loss: str
) -> np.ndarray:
    """Text labels (ids in sorted order): what a user means for each loss."""
    classes = ds.classes or []
    names = ", ".join(classes)
    if kind in REGRESSION:
        raise DataError(
            f"{where}: the target holds class names ({names}), but {loss} is a "
            "regression loss that needs numbers"
        )
    if kind in ("binary", "signed"):
        if len(classes) != 2 or units != 1:
            raise DataError(
                f"{where}: {loss} with class-name labels needs exactly 2 classes and 1 "
                f"output unit, but there are {len(classes)} classes ({names}) and "
                f"{units} units; for more classes use sparse_categorical_crossentropy"
            )
        return ds.y.astype(np.float64).reshape(-1, 1)  # (n, 1): classes[1] is 1
    if len(classes) > units:
        raise DataError(
            f"{where}: the target has {len(classes)} classes ({names}) but the output "
            f"layer has {units} units; give it {len(classes)} units"
        )
    if kind == "sparse":
        return ds.y.astype(np.int64)
    return np.eye(units)[ds.y]  # (n, units) one-hot


def check_inputs(
    ds: Dataset,
    first_layer: object,
    feature_names: list[str] | None = None,
    standardized: bool = False,
) -> Dataset:
    """`ds` with x as int64 token ids when the model starts with an embedding.

    Any other first layer leaves `ds` as it is. A value that is not a whole
    number in [0, input_dim) is a DataError naming the role, file, row and
    column; standardised features (data.standardize) are refused, since
    rescaled ids are no longer ids.
    """
    if getattr(first_layer, "get_config", lambda: {})().get("type") != "embedding":
        return ds
    where = f"{ds.role} data {ds.name or ds.origin}"
    if standardized:
        raise DataError(
            f"{where}: the model starts with an embedding, whose inputs are token "
            "ids, but data.standardize rescales them; set data.standardize: false"
        )
    dim = int(first_layer.input_dim)
    flat = ds.x.reshape(len(ds.x), -1)  # (n, features)
    whole = np.isfinite(flat) & (flat == np.round(flat))
    bad = ~whole | (flat < 0) | (flat >= dim)
    if bad.any():
        rows = bad.any(axis=1)
        i, j = (int(k) for k in np.argwhere(bad)[0])
        col = (
            f"column {feature_names[j]!r}"
            if feature_names and j < len(feature_names)
            else f"column {j + 1}"
        )
        n_more = int(rows.sum()) - 1
        more = f" (and {plural(n_more, 'more row')})" if n_more else ""
        raise DataError(
            f"{where}: row {int(ds.rows[i])}, {col} is {flat[i, j]:g}, not a token "
            f"id of the embedding (a whole number in [0, {dim}), input_dim "
            f"{dim}){more}"
        )
    return dataclasses.replace(ds, x=ds.x.astype(np.int64))
