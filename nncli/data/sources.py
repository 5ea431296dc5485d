"""Read the data a spec names (CSV, NPZ, x/y CSV pair, builtin) into host arrays.

`load_data(spec, spec_dir, seed, input_shape)` is what training calls: it reads
the training source (and a validation file or split), maps text labels to ids
in sorted order, standardises with training statistics when asked, and returns
`Splits` of ready float64 arrays plus the `Preprocessing` to save with the run.

Conventions (documented for users in the README, section Data):
- Relative paths resolve against the spec file's directory, never the cwd.
- "row N" is the N-th data row of a file, 1-based; the header and blank lines
  are not counted.
- A flat row of prod(input_shape) values becomes one sample by a row-major
  (C order) reshape: for [3, 2] the columns are t1_a, t1_b, t2_a, t2_b, ...
- Every DataError is one line that starts with the role and the file.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from nncli.data.preprocess import Preprocessing
from nncli.data.readers import _read_records, read_builtin, read_csv, read_npz, read_xy
from nncli.data.tables import (  # noqa: F401  (Dataset, plural: public API)
    Dataset,
    Splits,
    _format,
    _Table,
    plural,
    printable,
    resolve_path,
)
from nncli.errors import DataError, SpecError


def _read_file(
    written: str,
    spec: dict,
    spec_dir: Path,
    role: str,
    input_shape: tuple[int, ...],
    target_required: bool = True,
) -> _Table:
    path = resolve_path(written, spec_dir, role)
    if _format(path, spec.get("format", "auto"), written, role) == "npz":
        if spec.get("target") is not None:
            raise DataError(
                f"{role} file {written}: data.target selects CSV columns; an .npz "
                "file gives its targets as array 'y' (or the one data.y_array "
                "names), so remove data.target"
            )
        return read_npz(written, spec, spec_dir, role, input_shape)
    for key in ("x_array", "y_array"):
        if spec.get(key) is not None:
            raise SpecError(
                f"names an array of an .npz file, but {role} file {written} is "
                "CSV; remove it (data.target names the target columns of a CSV)",
                f"data.{key}",
            )
    return read_csv(written, spec, spec_dir, role, input_shape, target_required)


def _encode(
    table: _Table, prep: Preprocessing | None
) -> tuple[np.ndarray, list[str] | None]:
    """Labels -> ids. Training (prep None) fits the sorted classes; others reuse them."""
    if prep is None:
        if table.classes is not None:
            return table.y, table.classes
        if isinstance(table.y, list):
            classes = sorted(set(table.y))
            ids = {c: i for i, c in enumerate(classes)}
            return np.array([ids[v] for v in table.y], dtype=np.int64), classes
        return table.y, None
    if isinstance(table.y, list):
        return prep.encode(
            table.y, [int(r) for r in table.rows], table.where
        ), prep.classes
    if prep.classes is not None:
        raise DataError(
            f"{table.where}: the target holds numbers (row {table.rows[0]}: "
            f"{np.ravel(table.y[0])[0]:g}) but the training labels are class names "
            f"({', '.join(prep.classes)})"
        )
    return table.y, None


def _to_dataset(
    table: _Table, y: np.ndarray, role: str, input_shape, classes
) -> Dataset:
    return Dataset(
        x=table.x.reshape(len(table.x), *input_shape),  # (n, *input_shape), C order
        y=y,
        origin=table.origin,
        role=role,
        rows=table.rows,
        name=table.name,
        classes=classes,
        weights=table.weights,
    )


def _subset(ds: Dataset, idx: np.ndarray, role: str) -> Dataset:
    return Dataset(
        x=ds.x[idx],
        y=ds.y[idx],
        origin=ds.origin,
        role=role,
        rows=ds.rows[idx],
        name=ds.name,
        classes=ds.classes,
        weights=None if ds.weights is None else ds.weights[idx],
    )


def split_validation(
    ds: Dataset, fraction: float, shuffle: bool, seed: int
) -> tuple[Dataset, Dataset, str]:
    """Keras's split: the first floor(n * (1 - fraction)) rows train, the rest validate.

    With `shuffle`, which rows validate is drawn by `default_rng(seed)`; both
    parts keep their file order either way.
    """
    n = len(ds.x)
    split_at = math.floor(n * (1.0 - fraction))
    if split_at == 0 or split_at == n:
        side = "training" if split_at == 0 else "validation"
        raise DataError(
            f"training data {ds.name}: validation_split {fraction} of {n} rows leaves "
            f"0 rows for {side}; use more data or a different data.validation_split"
        )
    order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
    train_idx, val_idx = np.sort(order[:split_at]), np.sort(order[split_at:])
    how = f"shuffled with seed {seed}" if shuffle else "the last rows"
    note = (
        f"validation: {n - split_at} of {n} rows of {ds.name} "
        f"({fraction:g}, {how}); training on {split_at}"
    )
    return _subset(ds, train_idx, "training"), _subset(ds, val_idx, "validation"), note


def _sorted_split_note(train: Dataset, val: Dataset) -> list[str]:
    """A warning when an unshuffled split put a single label in validation."""
    if train.y.ndim != 1:
        return []
    if not 2 <= len(np.unique(np.concatenate([train.y, val.y]))) <= 50:
        return []
    seen = np.unique(val.y)
    if len(seen) > 1:
        return []
    label = train.classes[int(seen[0])] if train.classes else f"{seen[0]:g}"
    warning = (
        f"warning: every validation row has label {label!r}; the file looks sorted "
        "by label, set data.split_shuffle: true"
    )
    return [warning]


def _read_training(spec, spec_dir, seed, input_shape) -> tuple[_Table, str]:
    if spec.get("dataset") is not None:
        return read_builtin(spec["dataset"], seed, "training", input_shape)
    if spec.get("train") is not None:
        table = _read_file(spec["train"], spec, spec_dir, "training", input_shape)
        return table, table.origin
    table = read_xy(spec, spec_dir, "training", input_shape)
    return table, table.origin


def _read_validation(spec, spec_dir, input_shape, train: _Table) -> _Table | None:
    written = spec.get("validation")
    if written is None:
        return None
    if spec.get("train") is None:
        source = (
            "a builtin dataset" if spec.get("dataset") is not None else "data.x/data.y"
        )
        raise DataError(
            f"validation file {written}: a separate validation file needs a data.train "
            f"file; with {source} use data.validation_split"
        )
    table = _read_file(written, spec, spec_dir, "validation", input_shape)
    named = table.named_columns and train.named_columns
    if named and table.feature_names != train.feature_names:
        raise DataError(
            f"validation file {written}: feature columns ({', '.join(table.feature_names)})"
            f" differ from the training file's ({', '.join(train.feature_names)})"
        )
    return table


def load_data(
    spec: dict, spec_dir: Path, seed: int, input_shape: tuple[int, ...]
) -> Splits:
    """Read, encode, split and standardise the data a spec's `data` section names.

    Args:
        spec: `DataSpec.model_dump()` (dataset already a plain dict).
        spec_dir: the spec file's directory; relative paths resolve against it.
        seed: the spec's seed (synthetic datasets, validation_split shuffle).
        input_shape: `model.input_shape`, one sample without the batch axis.
    """
    input_shape = tuple(int(d) for d in input_shape)
    spec_dir = Path(spec_dir).resolve()
    table, described = _read_training(spec, spec_dir, seed, input_shape)
    y, classes = _encode(table, None)
    prep = Preprocessing(
        input_shape=input_shape,
        feature_names=table.feature_names,
        target_names=table.target_names,
        classes=classes,
    )
    train = _to_dataset(table, y, "training", input_shape, classes)
    notes, sources = list(table.notes), {"training": described}
    if classes is not None and table.classes is None:
        notes.append(
            f"classes of {table.name} (sorted): "
            + ", ".join(f"{c}={i}" for i, c in enumerate(classes))
        )
    val = None
    vtable = _read_validation(spec, spec_dir, input_shape, table)
    if vtable is not None:
        vy, _ = _encode(vtable, prep)
        val = _to_dataset(vtable, vy, "validation", input_shape, classes)
        notes += vtable.notes
        sources["validation"] = vtable.origin
    elif spec.get("validation_split", 0.0) > 0:
        frac, shuffle = spec["validation_split"], spec.get("split_shuffle", True)
        train, val, note = split_validation(train, frac, shuffle, seed)
        notes += [note] + ([] if shuffle else _sorted_split_note(train, val))
        how = f"shuffled with seed {seed}" if shuffle else "last rows"
        sources["validation"] = f"{frac:g} of {described} ({how})"
    if spec.get("standardize", False):
        prep.fit_standardize(train.x)
        train.x = prep.apply(train.x)
        if val is not None:
            val.x = prep.apply(val.x)
    return Splits(train=train, validation=val, prep=prep, sources=sources, notes=notes)


def load_file(
    written: str,
    spec: dict,
    spec_dir: Path,
    prep: Preprocessing,
    role: str = "evaluation",
    target_required: bool = True,
) -> Dataset:
    """A file read like the validation file, for eval/predict with a saved `prep`.

    Labels use the saved classes, features the saved standardisation. Without
    `data.target` the training target names are looked for. With
    `target_required=False` (predict) a CSV without the target column(s) is read
    as features only and `y` is an empty (n, 0) array; a data.sample_weight
    column is then set aside if present.
    """
    spec_dir = Path(spec_dir).resolve()
    path = resolve_path(written, spec_dir, role)
    fmt = _format(path, spec.get("format", "auto"), written, role)
    header = spec.get("header", True)
    target = spec.get("target")
    if target is None and header and prep.target_names:
        names = prep.target_names
        target = names[0] if len(names) == 1 else list(names)
    weight = spec.get("sample_weight")
    if fmt == "npz":
        target = None
    elif not target_required and (target is not None or weight is not None):
        names, _ = _read_records(path, f"{role} file {written}", header)
        keys = (
            [] if target is None else target if isinstance(target, list) else [target]
        )
        absent = header and not all(isinstance(k, str) and k in names for k in keys)
        if absent or len(names) == prep.n_features:  # features only: nothing to drop
            target = None
        if header and isinstance(weight, str) and weight not in names:
            weight = None
        if len(names) == prep.n_features + len(keys if target is not None else []):
            weight = None
    sub = {**spec, "target": target, "sample_weight": weight}
    if fmt == "npz":
        table = read_npz(
            written, sub, spec_dir, role, prep.input_shape, parse_target=target_required
        )
    else:
        table = read_csv(
            written,
            sub,
            spec_dir,
            role,
            prep.input_shape,
            target_required,
            parse_target=target_required,
        )
        expected = prep.feature_names
        if header and expected and table.feature_names != list(expected):
            raise DataError(
                f"{role} file {written}: feature columns "
                f"({', '.join(table.feature_names)}) differ from the training data's "
                f"({', '.join(expected)}); same names in the same order are needed"
            )
    if table.y is None:
        y = np.zeros((len(table.x), 0))  # (n, 0): no targets to compare with
    else:
        y, _ = _encode(table, prep)
    ds = _to_dataset(table, y, role, prep.input_shape, prep.classes)
    ds.x = prep.apply(ds.x)
    return ds
