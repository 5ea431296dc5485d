"""Everything that reads or writes a run directory; the only module that knows
its file names.

Layout of runs/<name>-<YYYYmmdd-HHMMSS>[-N]/:
  spec.yaml            the resolved spec, every default filled in
  metrics.csv          one row per finished epoch
  weights.safetensors  final (or last good) weights, Keras-style names
  preprocessing.json   class names, standardisation, input shape
  summary.json         status, final/best metrics, versions, timings
  checkpoint.safetensors  the whole training state of the last saved epoch
                       (weights, optimizer, random generators, callbacks), for
                       `nncli train --resume`
  checkpoints/         weights saved by a model_checkpoint callback
  split.npz            which source rows (1-based) trained and which validated
Every file is written to a temporary file (`.<name>.<random>.tmp`), fsynced
and renamed into place, so a reader (or a crash) only ever sees a complete old
or complete new version; a writer that opens the directory removes the
temporary files a killed process left. Each .safetensors file carries the
sha256 of its contents in its metadata (`nncli-sha256`), so a file damaged
after it was written is refused instead of read as other numbers.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import hashlib
import io
import json
import os
import re
import tempfile
import time
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from nncli.errors import NotARunError, RunError

SPEC = "spec.yaml"
METRICS = "metrics.csv"
WEIGHTS = "weights.safetensors"
PREPROCESSING = "preprocessing.json"
SUMMARY = "summary.json"
CHECKPOINT = "checkpoint.safetensors"
SPLIT = "split.npz"
CHECKPOINTS = "checkpoints"
FILES = (SPEC, METRICS, WEIGHTS, PREPROCESSING, SUMMARY, CHECKPOINT, SPLIT)
SEAL = "nncli-sha256"  # metadata key of a .safetensors file's checksum


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so readers see the old or the new file, never half."""
    commit(stage(path, data), path)


def stage(path: Path, data: bytes) -> Path:
    """Write `data` to a synced temporary file beside `path`; `commit` renames it."""
    if path.suffix == ".safetensors":
        data = seal(data)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would hide runs from others
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        discard(Path(tmp))
        raise
    return Path(tmp)


def commit(tmp: Path, path: Path) -> None:
    """Rename a staged file into place, durably."""
    try:
        os.replace(tmp, path)
    except BaseException:
        discard(tmp)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def discard(tmp: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(tmp)


def seal(data: bytes) -> bytes:
    """A safetensors blob with the sha256 of its header and tensors added to
    its metadata; the tensors and their offsets are unchanged."""
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    body = data[8 + n :]
    meta = header.setdefault("__metadata__", {})
    meta.pop(SEAL, None)
    meta[SEAL] = _digest(header, body)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # keep the tensors 8-byte aligned
    return len(text).to_bytes(8, "little") + text + body


def check_seal(data: bytes, path: Path) -> None:
    """RunError if `data` carries a checksum that its contents do not match.

    Files without one (written elsewhere, or by an older nncli) pass; so does
    a header too broken to parse, which safetensors then reports itself.
    """
    try:
        n = int.from_bytes(data[:8], "little")
        header = json.loads(data[8 : 8 + n]) if 8 + n <= len(data) else None
        meta = header.get("__metadata__") if isinstance(header, dict) else None
        want = meta.pop(SEAL, None) if isinstance(meta, dict) else None
    except ValueError:  # also UnicodeDecodeError
        return
    if want is not None and want != _digest(header, data[8 + n :]):
        raise RunError(
            f"{path} is damaged: its contents no longer match the checksum "
            "written with it (changed or cut short since)"
        )


def _digest(header: dict[str, Any], body: bytes) -> str:
    digest = hashlib.sha256(
        json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    )
    digest.update(body)
    return digest.hexdigest()


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it; put it back
    os.umask(mask)
    return mask


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "run"


def create_run_dir(runs_dir: Path, name: str) -> Path:
    """Claim a new, empty run directory; never reuses or overwrites one."""
    if runs_dir.exists() and not runs_dir.is_dir():
        raise RunError(f"runs directory {runs_dir} is a file, not a directory")
    missing = [p for p in (runs_dir, *runs_dir.parents) if not p.exists()]
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        for p in missing:  # deepest first: leave no half-made path behind
            with contextlib.suppress(OSError):
                p.rmdir()
        raise RunError(
            f"cannot create runs directory {runs_dir}: {e.strerror or e}"
        ) from e
    base = f"{_slug(name)}-{time.strftime('%Y%m%d-%H%M%S')}"
    for n in range(1, 10_000):
        candidate = runs_dir / (base if n == 1 else f"{base}-{n}")
        try:
            candidate.mkdir()  # atomic: fails if another process got there first
            return candidate
        except FileExistsError:
            continue
        except OSError as e:
            raise RunError(
                f"cannot create a run directory in {runs_dir}: {e.strerror}"
            ) from e
    raise RunError(f"no free run directory name for {base!r} in {runs_dir}")


class RunWriter:
    """Writes one run's files; every write is atomic.

    It holds a lock on the directory until `close()` (or until the process
    ends), so a second writer (say a `--resume` of a run still training) is
    refused; holding it, it removes the temporary files of a killed writer.
    """

    def __init__(self, run_dir: Path) -> None:
        self.dir = run_dir
        self.columns: list[str] = []
        self.close = weakref.finalize(self, _unlock, _lock(run_dir))
        try:
            for name in FILES:
                path = run_dir / name
                if path.exists() and not path.is_file():
                    raise RunError(f"{path} is not a file; move it out of the way")
            for folder in (run_dir, run_dir / CHECKPOINTS):
                for tmp in folder.glob(".*.tmp"):
                    discard(tmp)  # a dead writer's: the lock says none is alive
        except BaseException:
            self.close()
            raise

    def _write(self, name: str, data: bytes) -> None:
        try:
            write_atomic(self.dir / name, data)
        except OSError as e:
            raise RunError(f"cannot write {self.dir / name}: {e.strerror or e}") from e

    def write_spec(self, resolved: dict[str, Any]) -> None:
        text = yaml.safe_dump(resolved, sort_keys=False, default_flow_style=None)
        self._write(SPEC, text.encode())

    def write_split(self, splits: Any) -> None:
        """The source row numbers of the training and validation samples."""
        arrays = {"train_rows": np.asarray(splits.train.rows, dtype=np.int64)}
        if splits.validation is not None:
            arrays["validation_rows"] = np.asarray(
                splits.validation.rows, dtype=np.int64
            )
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        self._write(SPLIT, buf.getvalue())

    def write_preprocessing(self, state: dict[str, Any]) -> None:
        self._write(PREPROCESSING, _json_bytes(state))

    def write_weights(
        self, weights: dict[str, np.ndarray], metadata: dict[str, str]
    ) -> None:
        self.commit_weights(self.stage_weights(weights, metadata))

    def stage_weights(
        self, weights: dict[str, np.ndarray], metadata: dict[str, str]
    ) -> Path:
        """Weights written to a synced temporary file, not yet in place."""
        from safetensors.numpy import save

        arrays = {k: np.ascontiguousarray(v) for k, v in weights.items()}
        try:
            return stage(self.dir / WEIGHTS, save(arrays, metadata=metadata))
        except OSError as e:
            raise RunError(
                f"cannot write {self.dir / WEIGHTS}: {e.strerror or e}"
            ) from e

    def commit_weights(self, staged: Path) -> None:
        self.commit(staged, WEIGHTS)

    def stage(self, name: str, data: bytes) -> Path:
        """`data` in a synced temporary file beside `name`; `commit` puts it there."""
        try:
            return stage(self.dir / name, data)
        except OSError as e:
            raise RunError(f"cannot write {self.dir / name}: {e.strerror or e}") from e

    def commit(self, staged: Path, name: str) -> None:
        try:
            commit(staged, self.dir / name)
        except OSError as e:
            raise RunError(f"cannot write {self.dir / name}: {e.strerror or e}") from e

    def write_named_weights(
        self, name: str, weights: dict[str, np.ndarray], metadata: dict[str, str]
    ) -> Path:
        """checkpoints/<name>.safetensors (a model_checkpoint callback's save)."""
        from safetensors.numpy import save

        folder = self.dir / CHECKPOINTS
        try:
            folder.mkdir(exist_ok=True)
        except OSError as e:
            raise RunError(f"cannot create {folder}: {e.strerror or e}") from e
        arrays = {k: np.ascontiguousarray(v) for k, v in weights.items()}
        self._write(
            f"{CHECKPOINTS}/{name}.safetensors", save(arrays, metadata=metadata)
        )
        return folder / f"{name}.safetensors"

    def rewrite_metrics(self, columns: list[str], rows: list[dict[str, Any]]) -> None:
        """Replace metrics.csv by `rows` (a resumed run drops epochs that were
        written after its checkpoint)."""
        self.columns = list(columns)
        text = _csv_line(self.columns) + "".join(
            _csv_line([_fmt(r[k]) for k in self.columns]) for r in rows
        )
        self._write(METRICS, text.encode())

    def append_metrics(self, rows: list[dict[str, Any]]) -> int | None:
        """Add epochs' rows to metrics.csv; returns the size it had before
        (None if this call created it), for `unappend_metrics`.

        The first call creates the file atomically with its header; later rows
        are appended with one write() and an fsync, so the cost stays constant
        per call and a killed process leaves whole lines only.
        """
        for row in rows:
            if self.columns and list(row) != self.columns:
                raise RunError(
                    f"metrics row has columns {list(row)}, expected {self.columns}"
                )
            self.columns = self.columns or list(row)
        text = "".join(_csv_line([_fmt(r[k]) for k in self.columns]) for r in rows)
        if not (self.dir / METRICS).exists():
            self._write(METRICS, (_csv_line(self.columns) + text).encode())
            return None
        data = text.encode()
        try:
            fd = os.open(self.dir / METRICS, os.O_WRONLY | os.O_APPEND)
            try:
                size = os.fstat(fd).st_size
                try:
                    if os.write(fd, data) != len(data):
                        raise OSError(errno.ENOSPC, "short write (disk full?)")
                    os.fsync(fd)
                except OSError:
                    os.ftruncate(fd, size)  # whole rows only: undo a partial one
                    raise
            finally:
                os.close(fd)
        except OSError as e:
            raise RunError(
                f"cannot write {self.dir / METRICS}: {e.strerror or e}"
            ) from e
        return size

    def unappend_metrics(self, size: int | None) -> None:
        """Take back the rows of the `append_metrics` call that returned `size`
        (best effort: the disk that failed may refuse this too)."""
        with contextlib.suppress(OSError):
            if size is None:
                os.unlink(self.dir / METRICS)
            else:
                os.truncate(self.dir / METRICS, size)

    def write_summary(self, summary: dict[str, Any]) -> None:
        self._write(SUMMARY, _json_bytes(summary))


def _lock(run_dir: Path) -> int | None:
    """An exclusive lock on the directory (None where locks are unsupported)."""
    try:
        import fcntl
    except ImportError:  # Windows
        return None
    try:
        fd = os.open(run_dir, os.O_RDONLY)
    except OSError as e:
        raise RunError(f"cannot open {run_dir}: {e.strerror or e}") from e
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise RunError(
            f"{run_dir} is in use by another nncli process (training or resuming "
            "it); wait for it to finish, or stop it first"
        ) from None
    except OSError:  # a file system without locks: go on unlocked
        pass
    return fd


def _unlock(fd: int | None) -> None:
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)  # releases the lock


def _csv_line(values: list[Any]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(values)
    return buf.getvalue()


def _fmt(value: Any) -> Any:
    if isinstance(value, float):
        return repr(value)  # round-trips exactly; 'nan'/'inf' stay readable
    return value


def _json_bytes(obj: Any) -> bytes:
    return (
        json.dumps(obj, indent=2, allow_nan=True, default=_jsonable) + "\n"
    ).encode()


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


# files only a run directory holds: with one of them, a missing spec.yaml
# means a damaged run, not a wrong path
_RUN_FILES = (SUMMARY, METRICS, WEIGHTS, CHECKPOINT, PREPROCESSING)


def not_a_run(path: Path) -> RunError:
    """Why `path`, which has no spec.yaml, cannot be read as a run: a usage
    error (exit 2) for a file, a missing path or a foreign folder; a damaged
    run (exit 1) for a run directory that lost its spec."""
    where = "train prints its path, e.g. runs/<name>-<time>"
    if path.is_file():
        if path.suffix.lower() in (".yaml", ".yml"):
            return NotARunError(
                f"{path} is a spec file, not a run directory; train it first: "
                f"nncli train {path}"
            )
        return NotARunError(f"{path} is a file, not a run directory ({where})")
    if not path.is_dir():
        return NotARunError(f"{path} is not a run directory: it does not exist")
    if any((path / name).exists() for name in _RUN_FILES):
        return RunError(f"{path} is a damaged nncli run: its {SPEC} is missing")
    if any((p / SPEC).is_file() for p in _subdirs(path)):
        return NotARunError(
            f"{path} is not a run directory but holds runs; "
            f"nncli runs --runs-dir {path} lists them"
        )
    return NotARunError(f"{path} is not a run directory (no {SPEC}; {where})")


def _subdirs(path: Path) -> list[Path]:
    try:
        return [p for p in path.iterdir() if p.is_dir()]
    except OSError:
        return []


class RunReader:
    """Reads a finished (or interrupted) run directory."""

    def __init__(self, run_dir: Path) -> None:
        self.dir = Path(run_dir)
        if not (self.dir / SPEC).is_file():
            raise not_a_run(self.dir)

    def spec(self) -> dict[str, Any]:
        try:
            data = yaml.safe_load((self.dir / SPEC).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
            text = " ".join(str(e).split())
            raise RunError(f"cannot read {self.dir / SPEC}: {text}") from e
        if not isinstance(data, dict):
            raise RunError(f"{self.dir / SPEC} is not an nncli spec (not a mapping)")
        return data

    def weights(self) -> dict[str, np.ndarray]:
        if not (self.dir / WEIGHTS).exists():
            status = self._json(SUMMARY).get("status", "unknown")
            raise RunError(
                f"{self.dir} has no weights: the run stopped before finishing "
                f"an epoch (status: {status})"
            )
        return read_weights(self.dir / WEIGHTS)

    def weights_path(self) -> Path:
        """The run's final weights file (checked to exist)."""
        if not (self.dir / WEIGHTS).exists():
            self.weights()  # raises the explanatory error
        return self.dir / WEIGHTS

    def preprocessing(self) -> dict[str, Any]:
        return self._json(PREPROCESSING)

    def summary(self) -> dict[str, Any]:
        return self._json(SUMMARY)

    def checkpoint(self) -> bytes:
        path = self.dir / CHECKPOINT
        try:
            data = path.read_bytes()
            check_seal(data, path)
            return data
        except FileNotFoundError:
            raise RunError(
                f"{self.dir} has no {CHECKPOINT} to resume from (made by nncli "
                "before resume existed, or the run stopped while being set up)"
            ) from None
        except OSError as e:
            raise RunError(f"cannot read {path}: {e.strerror or e}") from e

    def metrics(self) -> list[dict[str, str]]:
        path = self.dir / METRICS
        if not path.exists():
            return []
        with path.open(newline="") as f:
            return list(csv.DictReader(f))

    def _json(self, name: str) -> dict[str, Any]:
        try:
            data = json.loads((self.dir / name).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RunError(f"{self.dir} has no {name}") from None
        except (OSError, ValueError) as e:  # UnicodeDecodeError is a ValueError
            raise RunError(f"cannot read {self.dir / name}: {e}") from e
        if not isinstance(data, dict):
            raise RunError(f"{self.dir / name} is malformed (not a JSON object)")
        return data


def read_weights(path: Path) -> dict[str, np.ndarray]:
    """Load a safetensors file into host arrays; a clear RunError if unreadable."""
    from safetensors import SafetensorError
    from safetensors.numpy import load

    if Path(path).is_dir():
        raise RunError(f"weights file {path} is a directory")
    if not Path(path).is_file():
        raise RunError(f"weights file not found: {path}")
    try:
        data = Path(path).read_bytes()
        check_seal(data, path)
        return load(data)
    except (SafetensorError, OSError, ValueError) as e:
        reason = getattr(e, "strerror", None) or e
        raise RunError(f"cannot read weights {path}: {reason}") from e
