"""SIGINT/SIGTERM during training: turned into exceptions, held back while a
checkpoint is being written, ignored once the run is already stopping."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Terminated(BaseException):
    """SIGTERM arrived; handled like Ctrl-C but exits 143."""


class DeferredSignals:
    """SIGINT -> KeyboardInterrupt and SIGTERM -> Terminated, held back inside
    `deferred()` blocks so a checkpoint is never half-updated.

    Only the first signal counts: later ones are ignored, so a second Ctrl-C
    cannot cut short the handling of the first. Python can swallow an
    exception raised inside a callback (a weakref finaliser, an import lock),
    so the loop calls `check()` at safe points to raise it again.
    """

    def __init__(self) -> None:
        self.depth = 0
        self.fired: type[BaseException] | None = None  # the first signal's exception
        self.muted = False

    def mute(self) -> None:
        """Ignore further signals (we are already stopping)."""
        self.muted = True

    def _handler(self, signum: int, frame: Any) -> None:
        if self.muted or self.fired is not None:
            return
        self.fired = Terminated if signum == signal.SIGTERM else KeyboardInterrupt
        if not self.depth:
            raise self.fired()

    def check(self) -> None:
        """Raise a signal's exception that was held back or swallowed."""
        if self.fired is not None and not self.muted and not self.depth:
            raise self.fired()

    @contextmanager
    def installed(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # signals can only be handled in the main thread
            return
        old = {
            s: signal.signal(s, self._handler) for s in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            yield
        finally:
            for s, handler in old.items():
                signal.signal(s, handler)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
        self.check()
