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

    The host arrays are cast once, here; a shuffled epoch gathers them in
    its order into buffers kept from epoch to epoch (one copy of the data),
    and every batch is a slice of those: no per-batch gather or cast. A
    batch is therefore valid until the next epoch starts.
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
        host = [  # what each batch becomes on the backend, cast once
            np.asarray(x, dtype=self.x_dtype or backend.dtype),
            np.asarray(y, dtype=self.y_dtype or backend.dtype),
        ]
        if weights is not None:
            host.append(np.asarray(weights, dtype=backend.dtype))
        self._host = host
        self._shuffled: list[np.ndarray] | None = None  # reused every epoch

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    @property
    def n_samples(self) -> int:
        return len(self.x)

    def epoch(self) -> Iterator[tuple[Any, Any, Any]]:
        n = len(self.x)
        arrays = self._host
        if self.shuffle:
            order = self.rng.permutation(n)
            if self._shuffled is None:
                self._shuffled = [np.empty_like(a) for a in arrays]
            for a, out in zip(arrays, self._shuffled):
                np.take(a, order, axis=0, out=out, mode="clip")  # one gather
            arrays = self._shuffled
        to_backend = self.backend.asarray  # no copy for numpy: same dtype
        for start in range(0, n, self.batch_size):
            part = slice(start, start + self.batch_size)
            xb = to_backend(arrays[0][part], dtype=arrays[0].dtype)  # (batch, ...)
            yb = to_backend(arrays[1][part], dtype=arrays[1].dtype)
            wb = None if len(arrays) < 3 else to_backend(arrays[2][part])
            yield xb, yb, wb  # wb: (batch,) in backend.dtype
