"""What the data readers share: the dataset types, path resolution and message
helpers. Conventions are described in `nncli/data/sources.py`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

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
    `classes` the text labels in id order when there are any. `weights` are
    the (n,) float64 loss weights of the samples (data.sample_weight, times the
    class weights for training), or None when every sample weighs 1.
    """

    x: np.ndarray
    y: np.ndarray
    origin: str
    role: str
    rows: np.ndarray
    name: str = ""
    classes: list[str] | None = None
    weights: np.ndarray | None = None


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
    weights: np.ndarray | None = None  # (n,) float64, data.sample_weight


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


def input_file(written: Path, role: str) -> Path:
    """The absolute path of a command's `--data FILE` (relative to the current
    directory); missing -> DataError, with the shipped table's file when
    `written` names a shipped dataset."""
    path = Path(written).expanduser().resolve()
    if path.is_file():
        return path
    what = "is a directory, not a file" if path.is_dir() else "not found"
    message = f"--data: {role} file {str(written)!r} {what}: resolved to {path}"
    if not Path(written).expanduser().is_absolute():
        message += " (relative to the current directory)"
    from nncli.datasets import TABLES

    if str(written) in TABLES:
        from importlib import resources

        table = resources.files("nncli.datasets").joinpath(f"data/{written}.csv")
        message += (
            f"; {written} is a shipped dataset, whose table is the CSV file {table}"
        )
    raise DataError(message)


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
