"""A file system that fails on cue: the write calls nncli makes under one folder
are recorded, and the k-th one raises an OSError (once, or from then on, like a
disk that stays full) or stops the "process" dead (a kill: nothing runs after
it, no clean-up, no temporary file removed).

The calls are the os functions a writer goes through (os.open for writing,
os.write, os.fsync, os.replace, os.mkdir); files are named relative to the run
directory, a temporary `.<name>.<random>.tmp` as `<name>~tmp`. Linux only
(an fd's path comes from /proc/self/fd).
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

import pytest

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
ERRNOS = (errno.ENOSPC, errno.EIO, errno.EROFS, errno.EACCES)


class Killed(BaseException):
    """The process died at a write (raised, like SIGKILL, past every handler
    that catches Exception; every later write or clean-up dies too)."""


class FaultyDisk:
    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        if not Path("/proc/self/fd").is_dir():
            pytest.skip("needs /proc/self/fd")
        self.root = str(root)
        self.ops: list[tuple[str, str]] = []  # (call, file) of every write
        self.at: int | None = None  # index of the write that fails
        self.mode = "persist"  # "once", "persist" (disk stays full) or "kill"
        self.errno = errno.ENOSPC
        self.failed = False
        self.dead = False
        real = {
            n: getattr(os, n)
            for n in ("open", "write", "fsync", "replace", "mkdir", "readlink")
        }

        def fd_path(fd: int) -> str:
            try:
                return real["readlink"](f"/proc/self/fd/{fd}")
            except OSError:
                return ""

        def fake_open(path, flags, *args, **kwargs):
            if flags & WRITE_FLAGS and "dir_fd" not in kwargs:
                self._write("open", path)
            return real["open"](path, flags, *args, **kwargs)

        def fake_write(fd, data):
            self._write("write", fd_path(fd))
            return real["write"](fd, data)

        def fake_fsync(fd):
            path = fd_path(fd)
            if self._mine(path):
                if not os.path.isdir(path):  # (a folder's fsync may fail freely)
                    self._write("fsync", path)
                return  # durability is not what these tests check: stay fast
            if self.dead:
                raise Killed("fsync")
            real["fsync"](fd)

        def fake_replace(src, dst, **kwargs):
            self._write("replace", dst)
            return real["replace"](src, dst, **kwargs)

        def fake_mkdir(path, *args, **kwargs):
            self._write("mkdir", path)
            return real["mkdir"](path, *args, **kwargs)

        for name, fn in (
            ("open", fake_open),
            ("write", fake_write),
            ("fsync", fake_fsync),
            ("replace", fake_replace),
            ("mkdir", fake_mkdir),
        ):
            monkeypatch.setattr(os, name, fn)
        for name in ("unlink", "remove", "rmdir", "ftruncate", "truncate"):
            monkeypatch.setattr(os, name, self._cleanup(getattr(os, name), name))

    def fail(self, at: int, mode: str, err: int = errno.ENOSPC) -> None:
        self.at, self.mode, self.errno = at, mode, err

    def heal(self) -> None:
        """The disk works again (space freed, process restarted)."""
        self.at, self.dead = None, False

    def _mine(self, path: str) -> bool:
        return path == self.root or path.startswith(self.root + os.sep)

    def _write(self, call: str, path: object) -> None:
        if self.dead:
            raise Killed(call)
        path = os.fsdecode(path)
        if not self._mine(path):
            return
        k = len(self.ops)
        self.ops.append((call, self.name(path)))
        if self.at is None or not (
            k == self.at or (self.failed and self.mode == "persist")
        ):
            return
        self.failed = True
        if self.mode == "kill":
            self.dead = True
            raise Killed(f"{call} {path}")
        raise OSError(self.errno, os.strerror(self.errno), path)

    def _cleanup(self, fn, call: str):
        def wrapped(*args, **kwargs):
            if self.dead:
                raise Killed(call)
            return fn(*args, **kwargs)

        return wrapped

    def name(self, path: str) -> str:
        """`<runs>`, `<run>`, or the file's path inside the run directory."""
        parts = os.path.relpath(path, self.root).split(os.sep)
        if parts == ["."]:
            return "<runs>"
        if len(parts) == 1:
            return "<run>"
        return re.sub(r"(^|/)\.(.+)\.[^./]+\.tmp$", r"\1\2~tmp", "/".join(parts[1:]))
