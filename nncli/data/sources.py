"""Read the data a spec names (CSV, NPZ, x/y CSV pair, builtin) into host arrays.

`load_data(spec, spec_dir, seed, input_shape)` is what training calls: it reads
the training source (and a validation file or split), maps text labels to ids
in sorted order, standardises with training statistics when asked, and returns
`Splits` of ready float64 arrays plus the `Preprocessing` to save with the run.

Conventions (documented for users in docs/data.md):
- Relative paths resolve against the spec file's directory, never the cwd.
- "row N" is the N-th data row of a file, 1-based; the header and blank lines
  are not counted.
- A flat row of prod(input_shape) values becomes one sample by a row-major
  (C order) reshape: for [3, 2] the columns are t1_a, t1_b, t2_a, t2_b, ...
- Every DataError is one line that starts with the role and the file.
"""

from __future__ import annotations

import csv
import difflib
import io
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nncli.data.datasets import datasets
from nncli.data.preprocess import Preprocessing
from nncli.errors import DataError

MISSING = frozenset({"", "?", "na", "nan", "null"})  # compared lowercased, stripped
LISTED = 10  # cells or rows named in one message before "and N more"


@dataclass
class Dataset:
    """One role's data, ready for the network.

    `x` is (n, *input_shape) float64; `y` is (n,) int64 class ids (text labels),
    (n,) float64 (one numeric column) or (n, k) float64 (several columns);
    `checks.check_targets` turns it into what the loss wants. `rows` are the
    1-based data-row numbers in the source, for messages. `name` is the file
    holding the targets as written in the spec (or "dataset iris"), and
    `classes` the text labels in id order when there are any.
    """

    x: np.ndarray
    y: np.ndarray
    origin: str
    role: str
    rows: np.ndarray
    name: str = ""
    classes: list[str] | None = None


@dataclass
class Splits:
    train: Dataset
    validation: Dataset | None
    prep: Preprocessing
    sources: dict[str, str]
    notes: list[str] = field(default_factory=list)


@dataclass
class _Table:
    """A source as read, before labels are encoded: x (n, features) flat."""

    x: np.ndarray
    y: Any  # (n,) / (n, k) float64, or list[str] of text labels
    rows: np.ndarray
    feature_names: list[str]
    target_names: list[str]
    name: str
    origin: str
    where: str
    notes: list[str] = field(default_factory=list)
    classes: list[str] | None = None  # set by builtin tables
    named_columns: bool = False  # feature names come from a CSV header


# ---------------------------------------------------------------- paths & format


def resolve_path(written: str, spec_dir: Path, role: str) -> Path:
    """The absolute path of a spec's file; missing -> DataError showing both forms."""
    path = Path(written).expanduser()
    if not path.is_absolute():
        path = Path(spec_dir) / path
    path = path.resolve()
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "not found"
        raise DataError(
            f"{role} file {written!r} {what}: resolved to {path} (relative paths "
            f"are resolved against the spec file's directory, {Path(spec_dir).resolve()})"
        )
    return path


def _format(path: Path, fmt: str, written: str, role: str) -> str:
    if fmt != "auto":
        return fmt
    ext = path.suffix.lower()
    if ext in (".csv", ".npz"):
        return ext[1:]
    raise DataError(
        f"{role} file {written}: cannot tell the format from the extension "
        f"{ext or '(none)'!r}; rename it to .csv/.npz or set data.format: csv or npz"
    )


def _feature_count_error(
    input_shape: tuple[int, ...], where: str, has: str
) -> DataError:
    dims = " × ".join(map(str, input_shape))
    need = math.prod(input_shape)
    need_txt = f"{dims} = {need}" if len(input_shape) > 1 else str(need)
    return DataError(
        f"{where}: model.input_shape {list(input_shape)} needs {need_txt} feature "
        f"values per row, but {has}"
    )


def plural(n: int, word: str) -> str:
    """'1 row', '3 rows'."""
    return f"{n} {word}" + ("" if n == 1 else "s")


def printable(text: str) -> str:
    """`text` with control characters escaped, so a message stays on one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _listing(items: list[str]) -> str:
    shown = ", ".join(items[:LISTED])
    return shown + (f", and {len(items) - LISTED} more" if len(items) > LISTED else "")


# ---------------------------------------------------------------- CSV


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
    reader = csv.reader(io.StringIO(text, newline=""))
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


def _column(names: list[str], key: str | int, where: str, header: bool) -> int:
    if isinstance(key, int):
        if -len(names) <= key < len(names):
            return key % len(names)
        raise DataError(
            f"{where}: data.target {key} is out of range; the file has {len(names)} "
            f"columns (0-based indices 0..{len(names) - 1})"
        )
    if not header:
        raise DataError(
            f"{where}: data.target {key!r} names a column, but data.header is false so "
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
    fcols = [j for j in range(len(names)) if j not in tcols]
    if len(fcols) != math.prod(input_shape):
        has = f"the file has {plural(len(fcols), 'feature column')}" + (
            f" (all columns except the target {', '.join(names[j] for j in tcols)})"
            if tcols
            else ""
        )
        raise _feature_count_error(input_shape, where, has)
    xs = _parse_numbers(records, fcols, names)
    ys, y = (_targets_of(records, tcols, single, names, where)
             if tcols and parse_target else (None, None))
    keep = _raise_problems(
        where, [p for p in (xs, ys) if p is not None], spec.get("missing", "error")
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
    if not tcols:
        tcols, single = list(range(len(ynames))), len(ynames) == 1
    xs = _parse_numbers(xrec, list(range(len(xnames))), xnames)
    ys, y = _targets_of(yrec, tcols, single, ynames, wy)
    mode = spec.get("missing", "error")
    keep = _raise_problems(wx, [xs], mode) & _raise_problems(wy, [ys], mode)
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
    )


# ---------------------------------------------------------------- NPZ


def read_npz(
    written: str, spec: dict, spec_dir: Path, role: str, input_shape: tuple[int, ...]
) -> _Table:
    """An .npz archive with arrays `x` (n, ...) and `y` (n,) or (n, k)."""
    path = resolve_path(written, spec_dir, role)
    where = f"{role} file {written}"
    x, y = _npz_arrays(path, where)
    if len(x) != len(y):
        raise DataError(f"{where}: x has {len(x)} rows but y has {len(y)}")
    if len(x) == 0:
        raise DataError(f"{where} has 0 data rows (x has shape {list(x.shape)})")
    per_row = math.prod(x.shape[1:])
    if per_row != math.prod(input_shape):
        raise _feature_count_error(
            input_shape, where, f"x has {per_row} per row (shape {list(x.shape)})"
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
        ("x", x_inf, "inf"),
        ("y", y_inf, "inf"),
        ("x", x_nan, "NaN"),
        ("y", y_nan, "a missing value"),
    ):
        if rows.any() and (what == "inf" or spec.get("missing", "error") != "drop"):
            i = int(np.flatnonzero(rows)[0])
            hint = "" if what == "inf" else "; set data.missing: drop to skip such rows"
            raise DataError(f"{where}: row {i + 1} ({name}[{i}]) holds {what}{hint}")
    keep = ~(x_nan | y_nan)
    return _Table(
        x=x[keep],
        y=_take(y, keep),
        rows=np.flatnonzero(keep) + 1,
        feature_names=[f"x{i}" for i in range(per_row)],
        target_names=["y"],
        name=written,
        origin=str(path),
        where=where,
        notes=_drop_note(role, written, keep, where),
    )


def _npz_arrays(path: Path, where: str) -> tuple[np.ndarray, np.ndarray]:
    if not zipfile.is_zipfile(path):
        raise DataError(f"{where} is not an .npz archive (numpy.savez writes one)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.files)
            absent = [k for k in ("x", "y") if k not in keys]
            if absent:
                raise DataError(
                    f"{where} has no array {absent[0]!r}; it needs arrays 'x' and 'y' "
                    f"(found: {', '.join(keys) or 'none'})"
                )
            x, y = archive["x"], archive["y"]
    except (ValueError, OSError, zipfile.BadZipFile) as err:
        raise DataError(f"{where} cannot be read as .npz: {err}") from None
    if x.dtype.kind not in "biuf" or x.ndim < 1:
        raise DataError(f"{where}: x must be a numeric array, got dtype {x.dtype}")
    if y.dtype.kind not in "biufUS" or y.ndim not in (1, 2):
        raise DataError(
            f"{where}: y must be numbers or text of shape (n,) or (n, k), got dtype "
            f"{y.dtype} and shape {list(y.shape)}"
        )
    return x, y


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
                "file gives its targets as array 'y', so remove data.target"
            )
        return read_npz(written, spec, spec_dir, role, input_shape)
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
    as features only and `y` is an empty (n, 0) array.
    """
    spec_dir = Path(spec_dir).resolve()
    path = resolve_path(written, spec_dir, role)
    fmt = _format(path, spec.get("format", "auto"), written, role)
    header = spec.get("header", True)
    target = spec.get("target")
    if target is None and header and prep.target_names:
        names = prep.target_names
        target = names[0] if len(names) == 1 else list(names)
    if fmt == "npz":
        target = None
    elif not target_required and target is not None:
        names, _ = _read_records(path, f"{role} file {written}", header)
        keys = target if isinstance(target, list) else [target]
        absent = header and not all(isinstance(k, str) and k in names for k in keys)
        if absent or len(names) == prep.n_features:  # features only: nothing to drop
            target = None
    sub = {**spec, "target": target}
    if fmt == "npz":
        table = read_npz(written, sub, spec_dir, role, prep.input_shape)
    else:
        table = read_csv(written, sub, spec_dir, role, prep.input_shape,
                         target_required, parse_target=target_required)
        expected = prep.feature_names
        if header and expected and table.feature_names != list(expected):
            raise DataError(
                f"{role} file {written}: feature columns "
                f"({', '.join(table.feature_names)}) differ from the training data's "
                f"({', '.join(expected)}); same names in the same order are needed")
    if table.y is None:
        y = np.zeros((len(table.x), 0))  # (n, 0): no targets to compare with
    else:
        y, _ = _encode(table, prep)
    ds = _to_dataset(table, y, role, prep.input_shape, prep.classes)
    ds.x = prep.apply(ds.x)
    return ds
