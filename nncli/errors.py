"""Exceptions raised by the library; only `cli.py` turns them into exit codes."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_DATA = 3
EXIT_DIVERGED = 4
EXIT_GATE = 5
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
EXIT_TERMINATED = 143  # SIGTERM (128 + SIGTERM)
EXIT_PIPE = 141  # 128 + SIGPIPE: the reader of stdout closed it (`nncli runs | head`)


class NncliError(Exception):
    """Base class: a message for the user and the exit code that goes with it."""

    exit_code = EXIT_FAILURE

    def lines(self) -> list[str]:
        """One line per problem (control characters from user text escaped)."""
        return [one_line(str(self))]


def one_line(text: str) -> str:
    """`text` with line breaks and other control characters escaped (a YAML
    key may hold a newline; an error must still be one line)."""
    if text.isprintable():
        return text
    return "".join(
        ch
        if ch == " " or not unicodedata.category(ch).startswith(("C", "Z"))
        else ch.encode("unicode_escape").decode("ascii")
        for ch in text
    )


@dataclass(frozen=True)
class Issue:
    """One problem in a spec: where (file, line, YAML path) and what."""

    path: str
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        return one_line(self._text())

    def _text(self) -> str:
        if self.file is None:  # not from a file: a command-line option, say
            return f"{self.path}: {self.message}" if self.path else self.message
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return (
            f"{where}: {self.path}: {self.message}"
            if self.path
            else (f"{where}: {self.message}")
        )


class SpecError(NncliError):
    """The spec (file or --set override) is invalid; carries every issue found."""

    exit_code = EXIT_USAGE

    def __init__(self, issues: list[Issue] | str, path: str = "") -> None:
        if isinstance(issues, str):
            issues = [Issue(path=path, message=issues)]
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))

    def lines(self) -> list[str]:
        return [str(i) for i in self.issues]


class DataError(NncliError):
    """Data that cannot be used: missing file, bad cell, wrong shape, bad label."""

    exit_code = EXIT_DATA


class BackendError(NncliError):
    """The requested array backend is unavailable or was misused (a usage error)."""

    exit_code = EXIT_USAGE


class RunError(NncliError):
    """A run directory or its files cannot be read or written."""

    exit_code = EXIT_FAILURE


class NotARunError(RunError):
    """A path given as a run directory is none (a spec file, a missing path):
    bad input, like a bad argument."""

    exit_code = EXIT_USAGE


class NothingToResume(NncliError):
    """`--resume` of a run that has finished its epochs: nothing to do, which
    is success (exit 0), so a script that reruns the command is idempotent."""

    exit_code = EXIT_OK

    def __init__(self, message: str, run_dir: Path, summary: dict[str, Any]) -> None:
        super().__init__(message)
        self.run_dir, self.summary = run_dir, summary


class DivergedError(NncliError):
    """Training produced a non-finite loss; what was good has been saved."""

    exit_code = EXIT_DIVERGED


class Interrupted(NncliError):
    """Ctrl-C (exit 130) or SIGTERM (exit 143) stopped a run; what was done is saved."""

    exit_code = EXIT_INTERRUPTED

    def __init__(self, message: str, exit_code: int = EXIT_INTERRUPTED) -> None:
        super().__init__(message)
        self.exit_code = exit_code
