"""Seeded mini-batches: the one place host data is copied to the backend."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from nncli.engine.backend import Backend


class Batches:
    """Mini-batches of (x, y, w) on the backend; the last partial batch is kept.

    Integer features (an embedding's token ids, see `checks.check_inputs`)
    stay int64; any other x is cast to the backend's float type.

    `w` holds the batch's per-sample loss weights in the backend's float type,
    or is None when `weights` is None (every sample weighs 1). With `shuffle`,
    each epoch draws a new permutation from `rng`, so the order depends only on
    the seed and on how many epochs came before.
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        batch_size: int,
        backend: Backend,
        shuffle: bool = False,
        rng: np.random.Generator | None = None,
        weights: np.ndarray | None = None,
    ) -> None:
        if weights is not None and weights.shape != (len(x),):
            raise ValueError(
                f"weights of shape {weights.shape} for {len(x)} samples; "
                "one weight per sample is needed"
            )
        self.x, self.y, self.weights = x, y, weights
        self.batch_size, self.backend, self.shuffle = batch_size, backend, shuffle
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.y_dtype = np.int64 if np.issubdtype(y.dtype, np.integer) else None
        self.x_dtype = np.int64 if np.issubdtype(x.dtype, np.integer) else None

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    @property
    def n_samples(self) -> int:
        return len(self.x)

    def epoch(self) -> Iterator[tuple[Any, Any, Any]]:
        n = len(self.x)
        order = self.rng.permutation(n) if self.shuffle else None
        for start in range(0, n, self.batch_size):
            idx = (
                slice(start, start + self.batch_size)
                if order is None
                else (order[start : start + self.batch_size])
            )
            xb = self.backend.asarray(self.x[idx], dtype=self.x_dtype)  # (batch, ...)
            yb = self.backend.asarray(self.y[idx], dtype=self.y_dtype)
            wb = (
                None
                if self.weights is None
                else self.backend.asarray(self.weights[idx])
            )
            yield xb, yb, wb  # wb: (batch,) in backend.dtype
