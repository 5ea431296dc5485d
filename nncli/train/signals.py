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
    `deferred()` blocks so a checkpoint is never half-updated."""

    def __init__(self) -> None:
        self.depth = 0
        self.muted = False
        self.pending: type[BaseException] | None = None

    def mute(self) -> None:
        """Ignore further signals (we are already stopping)."""
        self.muted, self.pending = True, None

    def _handler(self, signum: int, frame: Any) -> None:
        exc = Terminated if signum == signal.SIGTERM else KeyboardInterrupt
        if self.muted:
            return
        if self.depth:
            self.pending = self.pending or exc
            return
        raise exc()

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
        if not self.depth and self.pending is not None and not self.muted:
            exc, self.pending = self.pending, None
            raise exc()
