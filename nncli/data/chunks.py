"""Files read in chunks of rows, for `nncli predict` on inputs larger than memory.

`CsvChunks` reads a CSV record by record; `NpzChunks` reads an .npz archive's
`x` array slice by slice from the (stored or compressed) member. Both yield
`(rows, x, ok)`: 1-based data-row numbers (header and blank lines not
counted, as everywhere in nncli), raw float64 features (n, features) in the
training's feature order, and which rows are complete (with
`data.missing: drop` a row with a gap is kept, marked not ok; otherwise a gap
is a DataError naming row and column).
"""

from __future__ import annotations

import csv
import math
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from nncli.data.tables import MISSING, printable
from nncli.errors import DataError


class CsvChunks:
    """(rows, x, ok) chunks of a CSV's feature columns, read record by record.

    The training's feature columns are picked by name when the file has a
    header (other columns, such as the target, are ignored); without one the
    file holds the features alone or with the spec's target/weight columns.
    """

    def __init__(
        self, path: Path, written: str, spec: dict, prep: Any, chunk_rows: int
    ) -> None:
        self.path, self.where = path, f"prediction file {written}"
        self.spec, self.prep, self.chunk_rows = spec, prep, max(1, chunk_rows)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        try:
            with self.path.open(encoding="utf-8-sig", newline="") as f:
                yield from self._chunks(csv.reader(f, skipinitialspace=True))
        except UnicodeDecodeError as err:
            raise DataError(
                f"{self.where} is not UTF-8 text (byte 0x{err.object[err.start]:02x})"
                "; save it as UTF-8"
            ) from None
        except csv.Error as err:
            raise DataError(f"{self.where}: {err}") from None
        except OSError as err:
            raise DataError(f"{self.where} cannot be read: {err.strerror}") from None

    def _chunks(self, reader: Any) -> Iterator[tuple[np.ndarray, ...]]:
        records = (r for r in reader if r and not (len(r) == 1 and not r[0].strip()))
        header = self.spec.get("header", True)
        first = next(records, None)
        if first is None:
            raise DataError(f"{self.where} is empty: 0 data rows")
        names = [f"column {i}" for i in range(len(first))]
        if header:
            names = [printable(c.strip()) or f"column {i}" for i, c in enumerate(first)]
        cols = self._feature_columns(names, header)
        batch: list[list[str]] = [] if header else [first]
        done = 0
        for record in records:
            batch.append(record)
            if len(batch) == self.chunk_rows:
                yield self._parse(batch, done, names, cols)
                done, batch = done + len(batch), []
        if batch or not done:
            if not batch:
                raise DataError(
                    f"{self.where} has a header row ({', '.join(names)}) but 0 data rows"
                )
            yield self._parse(batch, done, names, cols)

    def _feature_columns(self, names: list[str], header: bool) -> list[int]:
        need = self.prep.n_features
        known = self.prep.feature_names
        if header and known and all(n in names for n in known):
            return [names.index(n) for n in known]  # by name, in training order
        if header and known and len(names) >= need:
            absent = [n for n in known if n not in names]
            raise DataError(
                f"{self.where} has no column {absent[0]!r} of the training features "
                f"({', '.join(known)}); its columns are: {', '.join(names)}"
            )
        drop = set()
        for key in ("target", "sample_weight"):
            value = self.spec.get(key)
            keys = value if isinstance(value, list) else [value]
            drop |= {k % len(names) for k in keys if isinstance(k, int)}
        cols = [j for j in range(len(names)) if j not in drop]
        if len(names) == need:
            return list(range(need))
        if len(cols) == need:
            return cols
        raise DataError(
            f"{self.where}: the model needs {need} feature values per row "
            f"(model.input_shape {list(self.prep.input_shape)}), but the file has "
            f"{len(names)} columns"
        )

    def _parse(
        self, records: list[list[str]], done: int, names: list[str], cols: list[int]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rows = np.arange(done + 1, done + len(records) + 1)  # (n,)
        short = [i for i, r in enumerate(records) if len(r) != len(names)]
        if short:
            i = short[0]
            raise DataError(
                f"{self.where}: row {rows[i]} has {len(records[i])} cells but the "
                f"{'header' if self.spec.get('header', True) else 'first row'} has "
                f"{len(names)}"
            )
        cells = [[r[j] for j in cols] for r in records]
        try:  # fast path: every cell a number
            x = np.array(cells, dtype=np.float64).reshape(len(records), len(cols))
        except ValueError:
            x = self._slow(cells, rows, names, cols)
        bad = np.argwhere(np.isinf(x))
        if len(bad):
            i, j = bad[0]
            raise DataError(
                f"{self.where}: row {rows[i]} column {names[cols[j]]!r} = "
                f"{cells[i][j].strip()!r} is not a finite number"
            )
        return rows, x, self._missing(x, rows, names, cols)

    def _slow(self, cells, rows, names, cols) -> np.ndarray:
        x = np.full((len(cells), len(cols)), np.nan)  # (n, features)
        for i, row in enumerate(cells):
            for j, raw in enumerate(row):
                text = raw.strip()
                if text.lower() in MISSING:
                    continue
                try:
                    x[i, j] = float(text)
                except ValueError:
                    raise DataError(
                        f"{self.where}: row {rows[i]} column {names[cols[j]]!r} = "
                        f"{text!r} is not a number"
                    ) from None
        return x

    def _missing(self, x, rows, names, cols) -> np.ndarray:
        """Rows to predict: all, or (data.missing: drop) those without a gap."""
        ok = ~np.isnan(x).any(axis=1)  # (n,)
        if ok.all() or self.spec.get("missing", "error") == "drop":
            return ok
        i = int(np.flatnonzero(~ok)[0])
        j = int(np.flatnonzero(np.isnan(x[i]))[0])
        raise DataError(
            f"{self.where}: row {rows[i]} column {names[cols[j]]!r} is missing; "
            "set data.missing: drop to skip incomplete rows"
        )


class NpzChunks:
    """(rows, x, ok) chunks of an .npz archive's `x` array, read slice by slice
    from the archive member (stored or compressed) without loading it whole."""

    def __init__(
        self, path: Path, written: str, spec: dict, prep: Any, chunk_rows: int
    ) -> None:
        self.path, self.where = path, f"prediction file {written}"
        self.spec, self.prep, self.chunk_rows = spec, prep, max(1, chunk_rows)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        if not zipfile.is_zipfile(self.path):
            raise DataError(
                f"{self.where} is not an .npz archive (numpy.savez writes one)"
            )
        try:
            with zipfile.ZipFile(self.path) as archive:
                name = self.spec.get("x_array") or "x"
                if f"{name}.npy" not in archive.namelist():
                    found = ", ".join(
                        n.removesuffix(".npy") for n in archive.namelist()
                    )
                    given = " (data.x_array)" if self.spec.get("x_array") else ""
                    raise DataError(
                        f"{self.where} has no array {name!r}{given} "
                        f"(found: {found or 'none'})"
                    )
                with archive.open(f"{name}.npy") as member:
                    yield from self._chunks(member, name)
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as err:
            raise DataError(f"{self.where} cannot be read as .npz: {err}") from None

    def _chunks(self, f: Any, name: str) -> Iterator[tuple[np.ndarray, ...]]:
        fmt = np.lib.format
        version = fmt.read_magic(f)
        read_header = (
            fmt.read_array_header_1_0
            if version == (1, 0)
            else fmt.read_array_header_2_0
        )
        shape, fortran, dtype = read_header(f)
        if dtype.kind == "O":
            raise DataError(
                f"{self.where}: {name} is an array of Python objects, which nncli "
                "does not load (that needs pickle); save it with a numeric dtype, "
                "e.g. np.asarray(a, dtype=float)"
            )
        if dtype.kind not in "biuf":
            raise DataError(
                f"{self.where}: {name} must be a numeric array, got {dtype}"
            )
        if len(shape) < 1:
            raise DataError(
                f"{self.where}: {name} must be an array of rows, shape (n, ...), "
                "got a single value (shape [])"
            )
        per_row = math.prod(shape[1:])
        if per_row != self.prep.n_features:
            raise DataError(
                f"{self.where}: the model needs {self.prep.n_features} feature values "
                f"per row (model.input_shape {list(self.prep.input_shape)}), but {name} "
                f"has {per_row} (shape {list(shape)})"
            )
        if shape[0] == 0:
            raise DataError(
                f"{self.where} has 0 data rows ({name} has shape {list(shape)})"
            )
        if fortran:  # column-major rows are not contiguous: read it whole
            x = np.frombuffer(f.read(), dtype=dtype).reshape(shape, order="F")
            yield from self._slices(x.reshape(shape[0], -1), 0, name)
            return
        done = 0
        while done < shape[0]:
            n = min(self.chunk_rows, shape[0] - done)
            data = f.read(n * per_row * dtype.itemsize)
            if len(data) != n * per_row * dtype.itemsize:
                raise DataError(f"{self.where}: {name} is cut short after row {done}")
            x = np.frombuffer(data, dtype=dtype).reshape(n, per_row)
            yield self._checked(x, done, name)
            done += n

    def _slices(
        self, x: np.ndarray, done: int, name: str
    ) -> Iterator[tuple[np.ndarray, ...]]:
        for start in range(0, len(x), self.chunk_rows):
            yield self._checked(x[start : start + self.chunk_rows], done + start, name)

    def _checked(self, x: np.ndarray, done: int, name: str) -> tuple[np.ndarray, ...]:
        x = x.astype(np.float64)  # (n, features)
        rows = np.arange(done + 1, done + len(x) + 1)  # (n,)
        for what, bad in (("inf", np.isinf(x)), ("NaN", np.isnan(x))):
            hit = np.flatnonzero(bad.any(axis=1))
            if not len(hit) or (what == "NaN" and self.spec.get("missing") == "drop"):
                continue
            i = int(hit[0])
            hint = "; set data.missing: drop to skip such rows" if what == "NaN" else ""
            raise DataError(
                f"{self.where}: row {rows[i]} ({name}[{rows[i] - 1}]) holds {what}{hint}"
            )
        return rows, x, ~np.isnan(x).any(axis=1)
