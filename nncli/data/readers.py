"""Readers for each kind of source: CSV, an x/y pair of CSVs, NPZ, builtin
datasets. Each returns a `_Table` of raw values with row numbers for messages."""

from __future__ import annotations

import csv
import difflib
import io
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nncli.data.datasets import datasets
from nncli.data.tables import (
    MISSING,
    _feature_count_error,
    _format,
    _listing,
    _Table,
    plural,
    printable,
    resolve_path,
)
from nncli.errors import DataError


def _read_records(
    path: Path, where: str, header: bool
) -> tuple[list[str], list[list[str]]]:
    """(column names, data rows of cells); every way to have no data is one error."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(
            f"{where} is not UTF-8 text (byte 0x{err.object[err.start]:02x} at offset "
            f"{err.start}); save it as UTF-8"
        ) from None
    except OSError as err:
        raise DataError(f"{where} cannot be read: {err.strerror}") from None
    if not text:
        size = " (0 bytes)" if path.stat().st_size == 0 else ""
        also = ", and no header row although data.header is true" if header else ""
        raise DataError(f"{where} is empty{size}: 0 data rows{also}")
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True)
    try:
        records = [r for r in reader if r and not (len(r) == 1 and not r[0].strip())]
    except csv.Error as err:
        raise DataError(f"{where}: line {reader.line_num}: {err}") from None
    if not records:
        raise DataError(f"{where} contains only blank lines: 0 data rows")
    if header:
        names, records = [printable(c.strip()) for c in records[0]], records[1:]
        if not records:
            raise DataError(
                f"{where} has a header row ({', '.join(names)}) but 0 data rows"
            )
        names = [c or f"column {i}" for i, c in enumerate(names)]
        dup = sorted({c for c in names if names.count(c) > 1})
        if dup:
            raise DataError(
                f"{where}: the header repeats column name(s) {', '.join(dup)}"
            )
    else:
        names = [f"column {i}" for i in range(len(records[0]))]
    bad = [i for i, r in enumerate(records) if len(r) != len(names)]
    if bad:
        ref = "the header has" if header else "row 1 has"
        more = f" (and {plural(len(bad) - 1, 'more such row')})" if len(bad) > 1 else ""
        raise DataError(
            f"{where}: row {bad[0] + 1} has {len(records[bad[0]])} cells but {ref} "
            f"{len(names)} columns{more}"
        )
    return names, records


def _column(
    names: list[str], key: str | int, where: str, header: bool, what="data.target"
) -> int:
    if isinstance(key, int):
        if -len(names) <= key < len(names):
            return key % len(names)
        raise DataError(
            f"{where}: {what} {key} is out of range; the file has {len(names)} "
            f"columns (0-based indices 0..{len(names) - 1})"
        )
    if not header:
        raise DataError(
            f"{where}: {what} {key!r} names a column, but data.header is false so "
            "columns have no names; give the 0-based column index instead"
        )
    if key in names:
        return names.index(key)
    close = difflib.get_close_matches(key, names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise DataError(
        f"{where} has no column {key!r}{hint}; its columns are: {', '.join(names)}"
    )


def _target_columns(
    names: list[str], target: Any, where: str, header: bool, required: bool
) -> tuple[list[int], bool]:
    """(target column indices, whether the target is one column given by name/index)."""
    if target is None:
        if required:
            raise DataError(
                f"{where}: data.target is not set; name the label column "
                f"(the file's columns are: {', '.join(names)})"
            )
        return [], False
    keys = target if isinstance(target, list) else [target]
    cols = [_column(names, k, where, header) for k in keys]
    if not cols or len(set(cols)) != len(cols):
        raise DataError(f"{where}: data.target {target!r} must name distinct columns")
    return cols, not isinstance(target, list)


@dataclass
class _Parsed:
    """Cells of some columns as numbers; problems collected, not raised."""

    values: np.ndarray  # (n, len(cols)) float64, NaN where missing or invalid
    missing: list[tuple[int, str, str]]  # (row, column, raw)
    invalid: list[tuple[int, str, str, str]]  # (row, column, raw, why)


def _parse_numbers(
    records: list[list[str]], cols: list[int], names: list[str]
) -> _Parsed:
    cells = [[r[j] for j in cols] for r in records]
    try:  # fast path: every cell a finite number
        values = np.array(cells, dtype=np.float64).reshape(len(records), len(cols))
        if np.isfinite(values).all():
            return _Parsed(values, [], [])
    except ValueError:
        pass
    values = np.full((len(records), len(cols)), np.nan)
    missing, invalid = [], []
    for i, row in enumerate(cells):
        for k, raw in enumerate(row):
            text, where = raw.strip(), (i + 1, names[cols[k]])
            if text.lower() in MISSING:
                missing.append((*where, raw))
                continue
            try:
                v = float(text)
            except ValueError:
                invalid.append((*where, raw, "is not a number"))
                continue
            if not math.isfinite(v):
                invalid.append((*where, raw, "is not a finite number"))
            else:
                values[i, k] = v
    return _Parsed(values, missing, invalid)


def _parse_labels(
    records: list[list[str]], col: int, names: list[str], where: str
) -> tuple[_Parsed, Any]:
    """One target column -> (problems, y): y (n,) float64, or text labels if no cell
    is a number. A column mixing numbers and text is an error."""
    parsed = _parse_numbers(records, [col], names)
    texts = [r for r, _, _, why in parsed.invalid if why == "is not a number"]
    if not texts:
        return parsed, parsed.values[:, 0]  # (n,)
    numbers = np.flatnonzero(~np.isnan(parsed.values[:, 0]))
    if len(numbers):
        i, j = int(numbers[0]), texts[0] - 1
        raise DataError(
            f"{where}: target column {names[col]!r} mixes numbers (row {i + 1}: "
            f"{records[i][col].strip()!r}) and text labels (row {j + 1}: "
            f"{records[j][col].strip()!r}); use one kind"
        )
    others = [p for p in parsed.invalid if p[3] != "is not a number"]
    labels = [printable(r[col].strip()) for r in records]
    return _Parsed(parsed.values, parsed.missing, others), labels


def _weight_column(
    names: list[str], spec: dict, tcols: list[int], where: str, header: bool
) -> int | None:
    """The data.sample_weight column, never a target column (None if not set)."""
    key = spec.get("sample_weight")
    if key is None:
        return None
    col = _column(names, key, where, header, "data.sample_weight")
    if col in tcols:
        raise DataError(
            f"{where}: data.sample_weight and data.target both name column "
            f"{names[col]!r}; the weights need a column of their own"
        )
    return col


def _parse_weights(
    records: list[list[str]], col: int, names: list[str], where: str
) -> np.ndarray:
    """(n,) float64 sample weights; any cell that is not a number >= 0 is refused
    (a missing weight too, whatever data.missing says)."""
    parsed = _parse_numbers(records, [col], names)
    w = parsed.values[:, 0]  # (n,)
    bad = [(r, c, raw, "is not a number") for r, c, raw in parsed.missing]
    bad += [(r, c, raw, why) for r, c, raw, why in parsed.invalid]
    bad += [
        (int(i) + 1, names[col], records[i][col], "is negative")
        for i in np.flatnonzero(w < 0)
    ]
    if bad:
        bad.sort()
        row, column, raw, why = bad[0]
        text = _cell_text(row, column, raw)
        why = "" if not raw.strip() else f" {why}"
        more = f" (and {plural(len(bad) - 1, 'more row')})" if len(bad) > 1 else ""
        raise DataError(
            f"{where}: sample weight {text}{why}{more}; data.sample_weight needs "
            "a number >= 0 in every row"
        )
    return w


def _cell_text(row: int, column: str, raw: str) -> str:
    if not raw.strip():
        return f"row {row} column {column!r} is empty"
    return f"row {row} column {column!r} = {raw.strip()!r}"


def _raise_problems(where: str, parts: list[_Parsed], missing_mode: str) -> np.ndarray:
    """Raise for invalid cells (and missing ones unless dropping); -> rows to keep."""
    invalid = sorted(p for part in parts for p in part.invalid)
    if invalid:
        items = [f"{_cell_text(r, c, raw)} {why}" for r, c, raw, why in invalid]
        raise DataError(
            f"{where}: {plural(len(items), 'cell')} cannot be used as numbers: "
            f"{_listing(items)}"
        )
    missing = sorted(p for part in parts for p in part.missing)
    if missing and missing_mode != "drop":
        items = [_cell_text(*m) for m in missing]
        raise DataError(
            f"{where} has {plural(len(items), 'missing value')}: {_listing(items)}; "
            "set data.missing: drop to skip incomplete rows"
        )
    n = len(parts[0].values)
    keep = np.ones(n, dtype=bool)
    keep[[r - 1 for r, _, _ in missing]] = False
    return keep


def _drop_note(role: str, name: str, keep: np.ndarray, where: str) -> list[str]:
    dropped = np.flatnonzero(~keep) + 1
    if not len(dropped):
        return []
    if keep.sum() == 0:
        raise DataError(
            f"{where}: every row has a missing value, so data.missing: drop leaves "
            "0 data rows"
        )
    rows = _listing([str(r) for r in dropped])
    note = (
        f"dropped {len(dropped)} of {len(keep)} {role} rows with missing values "
        f"(rows {rows}) from {name}"
    )
    return [note]


def _targets_of(records, cols, single, names, where) -> tuple[_Parsed, Any]:
    """Parse target columns -> (problems, y): y numeric array or list of text labels."""
    if single:
        return _parse_labels(records, cols[0], names, where)
    got = _parse_numbers(records, cols, names)
    return got, got.values  # (n, k)


def read_csv(
    written: str,
    spec: dict,
    spec_dir: Path,
    role: str,
    input_shape: tuple[int, ...],
    target_required: bool = True,
    parse_target: bool = True,
) -> _Table:
    """One CSV holding features and target column(s).

    With `parse_target=False` (predict) target columns are set aside unread, so
    an empty or unseen label there is no error.
    """
    path = resolve_path(written, spec_dir, role)
    where = f"{role} file {written}"
    header = spec.get("header", True)
    names, records = _read_records(path, where, header)
    tcols, single = _target_columns(
        names, spec.get("target"), where, header, target_required
    )
    wcol = _weight_column(names, spec, tcols, where, header)
    others = tcols + ([] if wcol is None else [wcol])
    fcols = [j for j in range(len(names)) if j not in others]
    if len(fcols) != math.prod(input_shape):
        role_of = {j: "target" for j in tcols} | {wcol: "sample weight"}
        has = f"the file has {plural(len(fcols), 'feature column')}" + (
            " (all columns except "
            + ", ".join(f"the {role_of[j]} {names[j]}" for j in others)
            + ")"
            if others
            else ""
        )
        raise _feature_count_error(input_shape, where, has)
    xs = _parse_numbers(records, fcols, names)
    ys, y = (
        _targets_of(records, tcols, single, names, where)
        if tcols and parse_target
        else (None, None)
    )
    keep = _raise_problems(
        where, [p for p in (xs, ys) if p is not None], spec.get("missing", "error")
    )
    w = (
        _parse_weights(records, wcol, names, where)
        if wcol is not None and parse_target
        else None
    )
    notes = _drop_note(role, written, keep, where)
    return _Table(
        x=xs.values[keep],
        y=None if y is None else _take(y, keep),
        rows=np.flatnonzero(keep) + 1,
        feature_names=[names[j] for j in fcols],
        target_names=[names[j] for j in tcols],
        name=written,
        origin=str(path),
        where=where,
        notes=notes,
        named_columns=header,
        weights=None if w is None else w[keep],
    )


def _take(y: Any, keep: np.ndarray) -> Any:
    if isinstance(y, list):
        return [v for v, k in zip(y, keep) if k]
    return y[keep]


def read_xy(
    spec: dict, spec_dir: Path, role: str, input_shape: tuple[int, ...]
) -> _Table:
    """Features and labels in two CSV files with one row per sample each."""
    written = {k: spec[k] for k in ("x", "y")}
    paths = {k: resolve_path(w, spec_dir, role) for k, w in written.items()}
    for k, p in paths.items():
        if _format(p, spec.get("format", "auto"), written[k], role) != "csv":
            raise DataError(
                f"{role} file {written[k]}: data.x and data.y must be CSV files"
            )
    wx, wy = (
        f"{role} features file {written['x']}",
        f"{role} labels file {written['y']}",
    )
    header = spec.get("header", True)
    xnames, xrec = _read_records(paths["x"], wx, header)
    ynames, yrec = _read_records(paths["y"], wy, header)
    if len(xrec) != len(yrec):
        raise DataError(
            f"{role} data: features file {written['x']} has {len(xrec)} data rows but "
            f"labels file {written['y']} has {len(yrec)}; they need one row per sample"
        )
    if len(xnames) != math.prod(input_shape):
        raise _feature_count_error(
            input_shape, wx, f"the file has {plural(len(xnames), 'feature column')}"
        )
    tcols, single = _target_columns(ynames, spec.get("target"), wy, header, False)
    wcol = _weight_column(ynames, spec, tcols, wy, header)
    if not tcols:
        tcols = [j for j in range(len(ynames)) if j != wcol]
        single = len(tcols) == 1
    if not tcols:
        raise DataError(
            f"{wy}: its only column is data.sample_weight; the labels are missing"
        )
    xs = _parse_numbers(xrec, list(range(len(xnames))), xnames)
    ys, y = _targets_of(yrec, tcols, single, ynames, wy)
    mode = spec.get("missing", "error")
    keep = _raise_problems(wx, [xs], mode) & _raise_problems(wy, [ys], mode)
    w = None if wcol is None else _parse_weights(yrec, wcol, ynames, wy)
    notes = _drop_note(role, f"{written['x']} + {written['y']}", keep, wx)
    return _Table(
        x=xs.values[keep],
        y=_take(y, keep),
        rows=np.flatnonzero(keep) + 1,
        feature_names=xnames,
        target_names=[ynames[j] for j in tcols],
        name=written["y"],
        origin=f"{paths['x']} (features) + {paths['y']} (labels)",
        where=f"{role} data {written['x']} + {written['y']}",
        notes=notes,
        weights=None if w is None else w[keep],
    )


# ---------------------------------------------------------------- NPZ


def read_npz(
    written: str,
    spec: dict,
    spec_dir: Path,
    role: str,
    input_shape: tuple[int, ...],
    parse_target: bool = True,
) -> _Table:
    """An .npz archive with arrays `x` (n, ...) and `y` (n,) or (n, k), or
    those named by data.x_array and data.y_array.

    With `parse_target=False` (predict) `y` is neither needed nor read.
    """
    path = resolve_path(written, spec_dir, role)
    where = f"{role} file {written}"
    wkey = spec.get("sample_weight") if parse_target else None
    if wkey is not None and not isinstance(wkey, str):
        raise DataError(
            f"{where}: data.sample_weight {wkey} is a column index, but an .npz "
            "file names its arrays; give the name of the weights array"
        )
    xn, yn = spec.get("x_array") or "x", spec.get("y_array") or "y"
    x, y, w = _npz_arrays(path, where, spec, need_y=parse_target, weights=wkey)
    if len(x) != len(y):
        raise DataError(f"{where}: {xn} has {len(x)} rows but {yn} has {len(y)}")
    if w is not None:
        w = _npz_weights(w, wkey, len(x), where)
    if len(x) == 0:
        raise DataError(f"{where} has 0 data rows ({xn} has shape {list(x.shape)})")
    per_row = math.prod(x.shape[1:])
    if per_row != math.prod(input_shape):
        raise _feature_count_error(
            input_shape, where, f"{xn} has {per_row} per row (shape {list(x.shape)})"
        )
    x = x.reshape(len(x), -1).astype(np.float64)  # (n, features)
    if y.dtype.kind in "US":
        y = [printable(str(v).strip()) for v in y]
        y_nan = np.array([v.lower() in MISSING for v in y])
        y_inf = np.zeros(len(y), dtype=bool)
    else:
        y = y.astype(np.float64)
        y_nan = np.isnan(y.reshape(len(y), -1)).any(axis=1)
        y_inf = np.isinf(y.reshape(len(y), -1)).any(axis=1)
    x_nan, x_inf = np.isnan(x).any(axis=1), np.isinf(x).any(axis=1)
    for name, rows, what in (
        (xn, x_inf, "inf"),
        (yn, y_inf, "inf"),
        (xn, x_nan, "NaN"),
        (yn, y_nan, "a missing value"),
    ):
        if rows.any() and (what == "inf" or spec.get("missing", "error") != "drop"):
            i = int(np.flatnonzero(rows)[0])
            hint = "" if what == "inf" else "; set data.missing: drop to skip such rows"
            raise DataError(f"{where}: row {i + 1} ({name}[{i}]) holds {what}{hint}")
    keep = ~(x_nan | y_nan)
    return _Table(
        x=x[keep],
        y=_take(y, keep) if parse_target else None,
        rows=np.flatnonzero(keep) + 1,
        feature_names=[f"x{i}" for i in range(per_row)],
        target_names=["y"],
        name=written,
        origin=str(path),
        where=where,
        notes=_drop_note(role, written, keep, where),
        weights=None if w is None else w[keep],
    )


def _npz_weights(w: np.ndarray, key: str, n: int, where: str) -> np.ndarray:
    """The weights array as (n,) float64; not numbers >= 0 is a DataError."""
    if w.dtype.kind not in "biuf" or not (
        w.ndim == 1 or (w.ndim == 2 and w.shape[1] == 1)
    ):
        raise DataError(
            f"{where}: array {key!r} (data.sample_weight) must be numbers of shape "
            f"(n,), got dtype {w.dtype} and shape {list(w.shape)}"
        )
    if len(w) != n:
        raise DataError(f"{where}: x has {n} rows but {key!r} has {len(w)}")
    w = w.reshape(n).astype(np.float64)  # (n,)
    bad = ~(w >= 0) | np.isinf(w)
    if bad.any():
        idx = np.flatnonzero(bad)
        i = int(idx[0])
        more = f" (and {plural(len(idx) - 1, 'more row')})" if len(idx) > 1 else ""
        raise DataError(
            f"{where}: sample weight row {i + 1} ({key}[{i}]) is {w[i]:g}{more}; "
            "data.sample_weight needs a number >= 0 in every row"
        )
    return w


def _npz_arrays(
    path: Path,
    where: str,
    spec: dict,
    need_y: bool = True,
    weights: str | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The features, targets and weights arrays named by the data section."""
    if not zipfile.is_zipfile(path):
        raise DataError(f"{where} is not an .npz archive (numpy.savez writes one)")
    xn, yn = spec.get("x_array") or "x", spec.get("y_array") or "y"
    keys_of = {xn: "x_array", yn: "y_array", weights: "sample_weight"}
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.files)
            needed = (xn, yn) if need_y else (xn,)
            needed += (weights,) if weights is not None else ()
            absent = [k for k in needed if k not in keys]
            if absent:
                key = keys_of[absent[0]]
                given = key == "sample_weight" or spec.get(key) is not None
                raise DataError(
                    f"{where} has no array {absent[0]!r}"
                    + (f" (data.{key})" if given else "")
                    + f"; it needs {' and '.join(repr(k) for k in needed)} "
                    f"(found: {', '.join(keys) or 'none'})"
                    + ("" if given else f"; name another with data.{key}")
                )
            x = _npz_member(archive, xn, where)
            y = _npz_member(archive, yn, where) if need_y else None
            w = _npz_member(archive, weights, where) if weights is not None else None
    except (ValueError, OSError, zipfile.BadZipFile) as err:
        raise DataError(f"{where} cannot be read as .npz: {err}") from None
    if x.dtype.kind not in "biuf":
        raise DataError(f"{where}: {xn} must be a numeric array, got dtype {x.dtype}")
    if x.ndim < 1:
        raise DataError(
            f"{where}: {xn} must be an array of rows, shape (n, ...), got a single "
            f"value (shape [])"
        )
    if y is None:
        y = np.zeros(len(x))  # a stand-in, unread
    if y.dtype.kind not in "biufUS" or y.ndim not in (1, 2):
        raise DataError(
            f"{where}: {yn} must be numbers or text of shape (n,) or (n, k), got "
            f"dtype {y.dtype} and shape {list(y.shape)}"
        )
    return x, y, w


def _npz_member(archive: Any, name: str, where: str) -> np.ndarray:
    """One array of an open .npz; an object array (which only pickle can
    load, and nncli does not unpickle) is a data error naming it."""
    try:
        return archive[name]
    except ValueError as err:
        if "allow_pickle" not in str(err):
            raise
        raise DataError(
            f"{where}: {name} is an array of Python objects, which nncli does not "
            "load (that needs pickle); save it with a numeric or text dtype, "
            "e.g. np.asarray(a, dtype=float)"
        ) from None


# ---------------------------------------------------------------- builtin


def read_builtin(
    cfg: Any, seed: int, role: str, input_shape: tuple[int, ...]
) -> tuple[_Table, str]:
    """A dataset that ships with nncli -> (table, description with every option)."""
    cfg = {"type": cfg} if isinstance(cfg, str) else dict(cfg)
    cls = datasets.get(cfg["type"])
    options = cls.Config.model_validate(cfg).model_dump()
    ds = datasets.create(options)
    x, y, classes = ds.load(seed)
    name = f"dataset {options['type']}"
    args = {k: v for k, v in options.items() if k != "type"}
    if "seed" in args and args["seed"] is None:
        args["seed"] = seed
    desc = name + (
        f" ({', '.join(f'{k}={v}' for k, v in args.items())})" if args else ""
    )
    if x.shape[1] != math.prod(input_shape):
        raise _feature_count_error(
            input_shape, f"{role} {name}", f"{name} has {x.shape[1]} features"
        )
    table = _Table(
        x=x.astype(np.float64),
        y=y if classes else y.astype(np.float64),
        rows=np.arange(1, len(x) + 1),
        feature_names=list(ds.feature_names),
        target_names=[ds.target_name],
        name=name,
        origin=name,
        where=f"{role} {name}",
        classes=classes,
    )
    return table, desc


# ---------------------------------------------------------------- assembly
