"""Class weights (Keras's `fit(class_weight=...)`) folded into per-sample weights.

Keras turns `class_weight` into a sample weight per training sample (the
class of a sample is its integer label, the argmax of a one-hot row, or the
rounded 0/1 label of a one-unit binary output) and multiplies it into the
training loss only; validation losses and all metrics ignore it. A
`data.sample_weight` column multiplies in too (tf.keras 2 did so; Keras 3
refuses the combination).

Labels are the ones the user wrote: class names for text labels, the integer
ids (0, 1, ...) for numeric ones. nncli refuses what Keras would silently
round: soft binary labels, probability rows and multi-label outputs, since
none of them has one class per sample.
"""

from __future__ import annotations

import difflib
from typing import Any

import numpy as np

from nncli.data.tables import Dataset, Splits, plural
from nncli.errors import DataError, SpecError

CLASSIFICATION = ("sparse", "onehot", "binary")
SHOWN = 20  # classes listed in a note or message


def class_ids(ds: Dataset, kind: str) -> np.ndarray:
    """(n,) int64 class of each sample, from targets `check_targets` prepared."""
    where = f"{ds.role} data {ds.name or ds.origin}"
    if kind == "sparse":
        return ds.y.reshape(len(ds.y)).astype(np.int64)
    y = ds.y.reshape(len(ds.y), -1)  # (n, k)
    rows = ((y != 0) & (y != 1)).any(axis=1)  # (n,)
    if kind != "binary":
        rows |= y.sum(axis=1) != 1
    what = "label" if kind == "binary" else "one-hot row"
    if rows.any():
        i = int(np.flatnonzero(rows)[0])
        more = rows.sum() - 1
        more_text = f" (and {plural(int(more), 'more row')})" if more else ""
        raise DataError(
            f"{where}: row {int(ds.rows[i])} has the soft {what} "
            f"{np.array2string(y[i], precision=4)}{more_text}; class_weight needs "
            "one class per sample (0/1 labels or exact one-hot rows)"
        )
    if kind == "binary":
        return y[:, 0].astype(np.int64)
    return y.argmax(axis=1).astype(np.int64)


def class_names(ds: Dataset, kind: str, units: int) -> list[str]:
    """The classes as the user knows them, in id order."""
    if ds.classes is not None:
        return list(ds.classes)
    return ["0", "1"] if kind == "binary" else [str(i) for i in range(units)]


def class_table(
    spec: dict[str, float] | str, ids: np.ndarray, names: list[str]
) -> tuple[np.ndarray, str]:
    """(weight of each class id, a note saying what they are).

    `balanced` is n_samples / (n_classes * count_c) over the classes present in
    `ids` (scikit-learn's formula); a mapping names classes by `names` and
    leaves the others at 1. An unknown name is a SpecError at class_weight.<key>.
    """
    table = np.ones(len(names))
    if spec == "balanced":
        counts = np.bincount(ids, minlength=len(names)).astype(np.float64)
        present = counts > 0
        table[present] = len(ids) / (present.sum() * counts[present])
        how = f"balanced over {len(ids)} training samples"
    else:
        index = {name: i for i, name in enumerate(names)}
        issues = [_unknown(key, names) for key in spec if key not in index]
        if issues:
            raise SpecError(issues)
        for key, value in spec.items():
            table[index[key]] = value
        how = "others 1" if len(spec) < len(names) else "given"
    shown = ", ".join(f"{n}={w:.4g}" for n, w in zip(names[:SHOWN], table))
    more = f", and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return table, f"class weights ({how}): {shown}{more}"


def _unknown(key: str, names: list[str]) -> Any:
    from nncli.errors import Issue

    close = difflib.get_close_matches(key, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    listed = ", ".join(names[:SHOWN]) + (" ..." if len(names) > SHOWN else "")
    return Issue(
        f"class_weight.{key}",
        f"unknown class {key!r}{hint} (the classes are: {listed})",
    )


def check_class_weight(spec: Any, kind: str, units: int, loss: str) -> None:
    """Refuse class_weight where a sample has no single class (spec errors)."""
    if spec is None:
        return
    if kind not in CLASSIFICATION:
        raise SpecError(
            f"class weights need a classification loss (sparse or one-hot labels, "
            f"or binary 0/1 labels); {loss} has no classes",
            "class_weight",
        )
    if kind == "binary" and units != 1:
        raise SpecError(
            f"class weights need one class per sample, but {loss} over {units} "
            "output units is multi-label; use 1 sigmoid unit, or sparse labels "
            "with a softmax",
            "class_weight",
        )


def apply_class_weight(
    splits: Splits, spec: Any, kind: str, units: int, loss: str, dtype: Any
) -> None:
    """Fold `class_weight` into the training weights (validation keeps only its
    sample weights, as in Keras) and check every weight fits `dtype`."""
    if spec is not None:
        check_class_weight(spec, kind, units, loss)
        train = splits.train
        ids = class_ids(train, kind)
        table, note = class_table(spec, ids, class_names(train, kind, units))
        per_sample = table[ids]  # (n,)
        train.weights = (
            per_sample if train.weights is None else train.weights * per_sample
        )
        splits.notes.append(note)
    limit = np.finfo(dtype).max
    for ds in (splits.train, splits.validation):
        if ds is None or ds.weights is None:
            continue
        bad = np.flatnonzero(~(ds.weights <= limit))
        if len(bad):
            i = int(bad[0])
            raise DataError(
                f"{ds.role} data {ds.name or ds.origin}: row {int(ds.rows[i])} has "
                f"sample weight {ds.weights[i]:g}, beyond {np.dtype(dtype).name}'s "
                "largest number; rescale the weights"
            )
