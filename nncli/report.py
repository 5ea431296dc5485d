"""Console output: rich progress on a terminal, plain lines elsewhere.

Everything goes to stderr, so stdout stays free for machine-readable output
(`--json`, the run directory). Plain mode writes no control characters.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, TextIO

from nncli.train.loop import EpochEvent, StepEvent


def format_logs(logs: dict[str, float], skip: tuple[str, ...] = ("seconds",)) -> str:
    parts = []
    for k, v in logs.items():
        if k in skip:
            continue
        parts.append(f"{k}: {v:.4g}" if k == "learning_rate" else f"{k}: {v:.4f}")
    return " - ".join(parts)


class Reporter:
    """Plain-text reporter: one line per epoch, no control characters."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet

    def _line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def info(self, text: str) -> None:
        if not self.quiet:
            self._line(text)

    def warn(self, text: str) -> None:
        self._line(f"warning: {text}")

    def start(self, epochs: int, steps: int, done: int = 0) -> None:
        """Training of `epochs` epochs of `steps` steps begins (`done` finished)."""
        self.epochs, self.steps = epochs, steps

    def step(self, event: StepEvent) -> None:
        pass

    def epoch(self, event: EpochEvent) -> None:
        if self.quiet:
            return
        secs = event.logs.get("seconds", 0.0)
        self._line(
            f"epoch {event.epoch}/{self.epochs} - {format_logs(event.logs)}"
            f" - {secs:.2f}s"
        )

    def stop(self) -> None:
        pass


class RichReporter(Reporter):
    """A live bar per epoch (batches, rate, ETA, running loss) and a line per epoch."""

    def __init__(
        self, stream: TextIO | None = None, force_terminal: bool | None = None
    ):
        super().__init__(stream)
        from rich.console import Console

        self.console = Console(
            file=self.stream,
            stderr=self.stream is sys.stderr,
            force_terminal=force_terminal,
        )
        self.progress: Any = None
        self._last = 0.0

    def _line(self, text: str) -> None:
        target = self.progress.console if self.progress is not None else self.console
        # soft_wrap: one logical line stays one line (greppable, copyable)
        target.print(text, highlight=False, markup=False, soft_wrap=True)

    def warn(self, text: str) -> None:
        target = self.progress.console if self.progress is not None else self.console
        target.print(f"[yellow]warning:[/] {text}", highlight=False)

    def start(self, epochs: int, steps: int, done: int = 0) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        super().start(epochs, steps, done)
        self.progress = Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}/{task.fields[epochs]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[logs]}"),
            console=self.console,
            transient=True,
        )
        self.progress.start()
        self.task = self.progress.add_task(
            "train", total=steps, epoch=done + 1, epochs=epochs, rate="", logs=""
        )
        self._epoch_start = time.perf_counter()

    def step(self, event: StepEvent) -> None:
        now = time.perf_counter()
        if event.step == 1:
            self._epoch_start = now
            # reset() replaces the task's fields, so pass them all again
            self.progress.reset(
                self.task,
                total=event.steps,
                epoch=event.epoch,
                epochs=self.epochs,
                rate="",
                logs="",
            )
        # at most ~10 updates a second: an update, and the metrics' sync in
        # event.logs, cost more than a small model's training step
        if now - self._last <= 0.1 and event.step != event.steps:
            return
        self._last = now
        elapsed = now - self._epoch_start
        rate = f"{event.step / elapsed:.1f} it/s" if elapsed > 0.05 else ""
        fields = {"rate": rate, "logs": format_logs(event.logs)}
        self.progress.update(self.task, completed=event.step, **fields)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def interactive(stream: TextIO) -> bool:
    """Live bars only on a terminal someone watches: not when `CI` is set (CI
    runners often give jobs a pseudo-terminal) and not on TERM=dumb (CASE-027)."""
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        return False
    if os.environ.get("TERM") == "dumb":
        return False
    return stream.isatty()


def make_reporter(quiet: bool = False, stream: TextIO | None = None) -> Reporter:
    stream = stream or sys.stderr
    if not quiet and interactive(stream):
        return RichReporter(stream)
    return Reporter(stream, quiet=quiet)


def print_confusion(
    labels: list[str], matrix: list[list[int]], stream: TextIO | None = None
) -> None:
    """Counts of true (rows) by predicted (columns) class: a Rich table on a
    terminal, aligned plain text otherwise."""
    stream = stream or sys.stdout
    title = "confusion matrix (rows: true, columns: predicted)"
    if interactive(stream):
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text  # class names are text, never Rich markup

        table = Table(title=title)
        table.add_column("true \\ predicted")
        for label in labels:
            table.add_column(Text(label), justify="right")
        for label, row in zip(labels, matrix):
            table.add_row(Text(label), *(str(n) for n in row))
        Console(file=stream).print(table)
        return
    cells = [[""] + labels] + [
        [lab] + [str(n) for n in r] for lab, r in zip(labels, matrix)
    ]
    widths = [max(len(row[j]) for row in cells) for j in range(len(cells[0]))]
    print(title, file=stream)
    for row in cells:
        first = row[0].ljust(widths[0])
        rest = (cell.rjust(w) for cell, w in zip(row[1:], widths[1:]))
        print("  ".join([first, *rest]).rstrip(), file=stream)
