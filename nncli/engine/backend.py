"""The array backend: which module computes (numpy or cupy) and in what dtype."""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from nncli.errors import BackendError

try:  # the only cupy import in nncli
    import cupy as _cupy  # type: ignore[import-not-found]

    HAS_CUPY = True
except Exception:  # noqa: BLE001 - ImportError, or a CUDA runtime that fails to load
    _cupy = None
    HAS_CUPY = False

DTYPES = {"float32": np.float32, "float64": np.float64}


def cuda_available() -> bool:
    if not HAS_CUPY:
        return False
    try:
        return _cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001 - no driver, no device: all mean "no GPU"
        return False


def get_array_module(x: Any) -> ModuleType:
    """numpy or cupy, whichever owns `x` (numpy for anything that is not cupy)."""
    if HAS_CUPY and isinstance(x, _cupy.ndarray):
        return _cupy
    return np


@dataclass(frozen=True)
class Backend:
    """Array module + default float dtype; layers keep one from `build`."""

    name: str
    xp: ModuleType
    dtype: Any

    @classmethod
    def from_name(cls, name: str = "auto", dtype: str = "float32") -> Backend:
        if dtype not in DTYPES:
            raise BackendError(f"unknown dtype {dtype!r} (known: {', '.join(DTYPES)})")
        if name == "auto":
            name = "cupy" if cuda_available() else "numpy"
        if name == "numpy":
            return cls("numpy", np, DTYPES[dtype])
        if name == "cupy":
            if not HAS_CUPY:
                raise BackendError(
                    "backend 'cupy' requested but cupy is not installed; install "
                    "nncli's gpu extra (from a checkout: pip install -e '.[gpu]')"
                )
            if not cuda_available():
                raise BackendError(
                    "backend 'cupy' requested but no CUDA device is visible"
                )
            return cls("cupy", _cupy, DTYPES[dtype])
        raise BackendError(f"unknown backend {name!r} (known: auto, numpy, cupy)")

    def asarray(self, a: Any, dtype: Any = None) -> Any:
        """Host data on the backend in `dtype` (default: the backend's).

        Like `xp.asarray`, this may return `a` itself when nothing needs to
        change; copy before updating the result in place.
        """
        return self.xp.asarray(a, dtype=self.dtype if dtype is None else dtype)

    def to_numpy(self, a: Any) -> np.ndarray:
        if self.name == "cupy":
            return _cupy.asnumpy(a)
        return np.asarray(a)

    def zeros(self, shape: tuple[int, ...]) -> Any:
        return self.xp.zeros(shape, dtype=self.dtype)

    @property
    def device(self) -> str:
        if self.name == "cupy":
            dev = _cupy.cuda.Device()
            props = _cupy.cuda.runtime.getDeviceProperties(dev.id)
            return f"cuda:{dev.id} ({props['name'].decode()})"
        return "cpu"


# A GEMM smaller than this many FLOPs runs faster on one BLAS thread: waking
# a second thread costs more than it saves, and an idle OpenBLAS thread spins
# on the other core between calls (measured: bench/RESULTS.md, W5).
SMALL_GEMM_FLOPS = 1 << 24
_blas: list[Any] = []  # the process's BLAS libraries (threadpoolctl), found once


def one_blas_thread(xp: ModuleType, gemm_flops: float) -> Any:
    """A context in which numpy's BLAS uses one thread, when the GEMMs that
    run in it have fewer than SMALL_GEMM_FLOPS each: a loop of small matrix
    products (a recurrent layer's steps). Otherwise, for cupy, or where BLAS
    runs one thread anyway, a context that changes nothing. The thread count
    is the process's (BLAS has no other), restored on exit."""
    if xp is not np or gemm_flops >= SMALL_GEMM_FLOPS:
        return contextlib.nullcontext()
    if not _blas:
        from threadpoolctl import ThreadpoolController

        _blas.append(ThreadpoolController().select(user_api="blas"))
    blas = _blas[0]
    if all(i["num_threads"] <= 1 for i in blas.info()):
        return contextlib.nullcontext()
    return blas.limit(limits=1)


# glibc serves an allocation above M_MMAP_THRESHOLD (128 KiB at start) with a
# fresh mmap, and unmaps it when freed: every step's large temporaries (conv
# patches, activations, gradients) then cost page faults and zeroed pages in
# the kernel again and again. Above this size they still do; below it they
# come from the heap and freed ones are reused.
HOST_MMAP_THRESHOLD = 64 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
_tuned: list[bool] = []


def reuse_freed_host_memory() -> bool:
    """Let the C allocator reuse freed arrays of up to HOST_MMAP_THRESHOLD
    instead of returning each to the kernel (glibc only; once per process;
    NNCLI_MALLOC=system leaves the allocator as it is). True if changed.

    Measured on the W4 CNN (bench/RESULTS.md): 2.1 -> 1.2 s an epoch, kernel
    time 2.5 -> 0.05 s. The cost: memory freed by training stays with the
    process (its peak) until it exits. Numbers are unaffected.
    """
    if _tuned:
        return _tuned[0]
    changed = False
    if os.environ.get("NNCLI_MALLOC", "") != "system" and sys.platform == "linux":
        try:
            libc = ctypes.CDLL(None)
            mallopt = libc.mallopt
        except (OSError, AttributeError):  # not glibc (musl has no mallopt)
            mallopt = None
        if mallopt is not None:
            mallopt.argtypes, mallopt.restype = (
                [ctypes.c_int, ctypes.c_int],
                ctypes.c_int,
            )
            changed = bool(
                mallopt(_M_MMAP_THRESHOLD, HOST_MMAP_THRESHOLD)
                and mallopt(_M_TRIM_THRESHOLD, 2 * HOST_MMAP_THRESHOLD)
            )
    _tuned.append(changed)
    return changed
