"""`nncli predict`: a run's model on new rows, read and answered in chunks.

The input streams (nncli/data/chunks.py): a CSV is read record by record and
an .npz's `x` array slice by slice from the archive, so a file larger than
memory works; only `chunk_rows` rows are held at once. Each chunk gets the run's
preprocessing (feature order, standardisation), then the model in batches of
the run's batch_size, as `eval` does.

Output, one item per data row (1-based, blank lines and the header not
counted): the model's outputs, their probabilities when the model outputs
logits, and the predicted label (the training's class names restored, or the
class id for numeric classes). With `data.missing: drop` a row with a missing
feature gets no prediction (empty cells, `null`) rather than disappearing, so
output line N is always input row N.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from nncli.data.tables import Dataset, _format, input_file
from nncli.errors import NncliError, RunError

CHUNK_ROWS = 8192  # rows read, preprocessed and predicted at a time


@dataclass
class Chunk:
    """Predictions for consecutive rows of the input.

    `ok[i]` is False for a row skipped for a missing value (data.missing: drop);
    its outputs are NaN and its label None.
    """

    rows: np.ndarray  # (n,) 1-based data-row numbers
    outputs: np.ndarray  # (n, units) float64, the model's raw outputs
    probabilities: np.ndarray | None  # (n, units): sigmoid/softmax of logits
    labels: list[Any] | None  # class name (or id) per row
    ok: np.ndarray  # (n,) bool


class Predictor:
    """A finished run's model, its preprocessing and how to read its outputs."""

    def __init__(self, run_dir: Path) -> None:
        from nncli.engine.metrics import layout_for
        from nncli.evaluate import _preprocessing
        from nncli.inspect import session_from_run

        self.run_dir = Path(run_dir)
        self.session = session_from_run(self.run_dir)
        self.prep = _preprocessing(self.run_dir)
        self.layout = layout_for(self.session.target_kind, self.session.units)
        self.logits = bool(self.session.model.outputs_logits)
        self.units = self.session.units
        self.data_name = ""  # the input file as given, for messages

    @property
    def classifies(self) -> bool:
        """One class per sample: a softmax/argmax or a single 0/1 output."""
        kind = self.layout.kind
        return kind in ("sparse", "onehot") or (kind == "binary" and self.units == 1)

    def columns(self) -> list[str]:
        """CSV header: one column per output (probabilities for classes), then label."""
        prep, units = self.prep, self.units
        if prep.classes and units == len(prep.classes):
            names = [f"p_{c}" for c in prep.classes]
        elif prep.classes and units == 1:
            names = [f"p_{prep.classes[-1]}"]  # sigmoid: probability of class 1
        elif self.classifies:  # numeric class ids
            names = ["p_1"] if units == 1 else [f"p_{i}" for i in range(units)]
        elif prep.target_names and len(prep.target_names) == units:
            names = list(prep.target_names)
        else:
            names = [f"output_{i}" for i in range(units)]
        return names + (["label"] if self.classifies else [])

    def predict(self, rows: np.ndarray, x: np.ndarray, ok: np.ndarray) -> Chunk:
        """Model outputs for raw feature rows `x` (n, features); NaN rows skipped."""
        from nncli.train.loop import overflow_is_reported
        from nncli.train.session import check_fits

        s = self.session
        outputs = np.full((len(x), self.units), np.nan)  # (n, units)
        good = x[ok]  # (m, features)
        ds = Dataset(
            x=good,
            y=np.zeros((len(good), 0)),
            origin=self.data_name,
            role="prediction",
            rows=rows[ok],
            name=self.data_name,
        )
        check_fits(ds, s.backend.dtype, self.prep.feature_names)
        good = self.prep.apply(good.reshape(len(good), *self.prep.input_shape))
        bs = s.resolved["batch_size"]  # eval's batches: the same numbers as eval
        out = []
        for start in range(0, len(good), bs):
            xb = s.backend.asarray(good[start : start + bs])
            with overflow_is_reported():  # huge weights give inf, shown as such
                y = s.model.predict(xb)
            out.append(s.backend.to_numpy(y).astype(np.float64).reshape(len(xb), -1))
        if out:
            outputs[ok] = np.concatenate(out)
        probs = self.probabilities(outputs) if self.logits else None
        return Chunk(rows, outputs, probs, self._labels(outputs, ok), ok)

    def probabilities(self, z: np.ndarray) -> np.ndarray:
        """What logits mean: softmax over the units for the categorical losses,
        a sigmoid per unit otherwise (CASE-007)."""
        with np.errstate(over="ignore", invalid="ignore"):
            if self.layout.kind in ("sparse", "onehot"):
                e = np.exp(z - z.max(axis=1, keepdims=True))
                return e / e.sum(axis=1, keepdims=True)
            return 0.5 * (1.0 + np.tanh(0.5 * z))  # sigmoid without overflow

    def _labels(self, y: np.ndarray, ok: np.ndarray) -> list[Any] | None:
        """eval's rule (engine.metrics.ConfusionCounts): arg-max of several
        outputs (ties: the first), a single output above 0.5 (logit 0)."""
        if not self.classifies:
            return None
        with np.errstate(invalid="ignore"):
            if self.units > 1:
                ids = np.nan_to_num(y, nan=-np.inf).argmax(axis=1)
            else:
                ids = (y[:, 0] > (0.0 if self.logits else 0.5)).astype(np.int64)
        classes = self.prep.classes
        return [
            (classes[i] if classes else int(i)) if k else None
            for i, k in zip(ids.tolist(), ok.tolist())
        ]


def predictions(
    run_dir: Path, data: Path, chunk_rows: int | None = None
) -> tuple[Predictor, Iterator[Chunk]]:
    """The run's predictor and a generator of its predictions for `data`, chunk
    by chunk (CHUNK_ROWS rows unless `chunk_rows`). Reading starts with the
    first chunk; a bad cell further down raises only when its chunk is read."""
    chunk_rows = chunk_rows or CHUNK_ROWS
    predictor = Predictor(run_dir)
    spec = predictor.session.resolved["data"]
    written = str(data)
    path = input_file(data, "prediction")
    predictor.data_name = written
    fmt = _format(path, spec.get("format", "auto"), written, "prediction")
    from nncli.data.chunks import CsvChunks, NpzChunks

    reader = NpzChunks if fmt == "npz" else CsvChunks
    source = reader(path, written, spec, predictor.prep, chunk_rows)

    def chunks() -> Iterator[Chunk]:
        for rows, x, ok in source:
            yield predictor.predict(rows, x, ok)

    return predictor, chunks()


def predict_run(run_dir: Path, data: Path) -> dict[str, Any]:
    """Every prediction for `data` as one JSON-ready dict (held in memory)."""
    predictor, chunks = predictions(run_dir, data)
    items = [item for chunk in chunks for item in json_items(chunk)]
    return {
        "run": str(run_dir),
        "run_dir": str(run_dir),
        "data": str(data),
        "columns": predictor.columns(),
        "samples": len(items),
        "predictions": items,
    }


def json_items(chunk: Chunk) -> Iterator[dict[str, Any]]:
    """One dict per row: row, output (raw), probabilities (logits only), label."""
    for i, row in enumerate(chunk.rows.tolist()):
        if not chunk.ok[i]:
            item: dict[str, Any] = {"row": row, "output": None}
            if chunk.labels is not None:
                item["label"] = None
            yield item
            continue
        item = {"row": row, "output": [float(v) for v in chunk.outputs[i]]}
        if chunk.probabilities is not None:
            item["probabilities"] = [float(v) for v in chunk.probabilities[i]]
        if chunk.labels is not None:
            item["label"] = chunk.labels[i]
        yield item


def csv_rows(chunk: Chunk) -> Iterator[list[Any]]:
    """CSV cells per row: probabilities where the model outputs logits, else
    the outputs; then the label. A skipped row has empty cells."""
    values = chunk.outputs if chunk.probabilities is None else chunk.probabilities
    width = values.shape[1] + (chunk.labels is not None)
    for i in range(len(chunk.rows)):
        if not chunk.ok[i]:
            yield [""] * width
            continue
        cells: list[Any] = [repr(float(v)) for v in values[i]]
        if chunk.labels is not None:
            cells.append(chunk.labels[i])
        yield cells


def write_csv(
    stream: TextIO, columns: list[str], chunks: Iterator[Chunk]
) -> tuple[int, int]:
    """Write the header and each chunk as it comes; -> (rows, skipped rows)."""
    writer = csv.writer(stream, lineterminator="\n")  # quotes "x,y"
    writer.writerow(columns)
    n = skipped = 0
    for chunk in chunks:
        writer.writerows(csv_rows(chunk))
        n += len(chunk.rows)
        skipped += int((~chunk.ok).sum())
    return n, skipped


def write_json(stream: TextIO, head: dict[str, Any], chunks: Iterator[Chunk]) -> int:
    """`head` plus "predictions" (one item per line, written as they come),
    "samples", "ok" and "exit_code", as one strict JSON object (NaN and
    infinities become null). A bad row in a later chunk still ends one valid
    document: the predictions so far, "ok": false, its exit code and
    "errors"; the error, re-raised, is marked `json_written`."""
    text = json.dumps(head, indent=2)[:-2]  # open: no closing "\n}"
    stream.write(text + ',\n  "predictions": [')
    n = 0

    def close(tail: dict[str, Any]) -> None:
        rest = json.dumps({"samples": n, **tail}, indent=2)[1:]  # "\n  ...}"
        stream.write("\n  ]," + rest + "\n")

    try:
        for chunk in chunks:
            for item in json_items(chunk):
                sep = ",\n    " if n else "\n    "
                stream.write(sep + json.dumps(_strict(item), allow_nan=False))
                n += 1
    except NncliError as e:
        close({"ok": False, "exit_code": e.exit_code, "errors": e.lines()})
        e.json_written = True  # type: ignore[attr-defined]
        raise
    close({"ok": True, "exit_code": 0})
    return n


def _strict(item: dict[str, Any]) -> dict[str, Any]:
    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        return [clean(u) for u in v] if isinstance(v, list) else v

    return {k: clean(v) for k, v in item.items()}


def first_ready(chunks: Iterator[Chunk]) -> Iterator[Chunk]:
    """`chunks` with its first chunk already read, so that an error in the
    file's header or first rows comes before any output is written."""
    try:
        first = next(chunks)
    except StopIteration:
        return iter(())

    def rest() -> Iterator[Chunk]:
        yield first
        yield from chunks

    return rest()


@contextlib.contextmanager
def atomic_output(path: Path, binary: bool = False) -> Iterator[Any]:
    """A file (text, or `binary`) that appears at `path` whole, or not at all
    when the block raises; the temporary file sits beside it until then."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
        )
    except OSError as e:
        raise RunError(f"cannot write {path}: {e.strerror or e}") from e
    try:
        mode = (
            {"mode": "wb"}
            if binary
            else {"mode": "w", "newline": "", "encoding": "utf-8"}
        )
        with os.fdopen(fd, **mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would hide it from others
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
