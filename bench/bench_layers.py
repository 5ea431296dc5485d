"""Forward + backward of one nncli layer against PyTorch's equivalent, per layer.

Usage: python bench/bench_layers.py [--repeats 7] [--threads 2] [--only gru,lstm]
                                    [--json FILE]
Needs torch (`pip install -e '.[bench]'`). Each case builds one layer at a
small, realistic size (the shapes are in the table), float32, and times one
training call: forward in training mode, then backward of a fixed random
upstream gradient, input gradient included (except for the embedding's
integer ids). nncli runs channels-last (as Keras), PyTorch in its native
layout (channels-first, batch-first sequences). After a warm-up, the two
sides run in turn, a block of calls each (at least --block seconds), so the
machine's load hits both alike; the table gives the median milliseconds per
call, the ratio nncli / torch (lower is better; 1.0 = as fast as torch) and
the CPU time other processes used while the case ran (from /proc/stat;
above ~0.1 cores the figures are noisy). --threads sets torch's threads and,
through threadpoolctl, numpy's BLAS. Absolute times depend on the machine and
its load: compare ratios.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from typing import Callable, NamedTuple

import numpy as np
from run import cpu_seconds, machine_busy_seconds

B = 32  # batch; the sequence cases use 64 (SEQ_B)
SEQ_B, T, FEATURES, UNITS = 64, 50, 32, 64


class Case(NamedTuple):
    name: str
    cfg: dict  # the nncli layer, as in a spec
    in_shape: tuple[int, ...]  # nncli's, batch included
    torch_layer: Callable  # () -> torch module taking torch's layout
    to_torch: Callable  # nncli-layout array -> torch-layout array
    ids: int = 0  # > 0: integer inputs in [0, ids)


def _nchw(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.moveaxis(a, -1, 1))


def _ncl(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a.transpose(0, 2, 1))


def _same(a: np.ndarray) -> np.ndarray:
    return a


def _torch_rnn(kind: str, bidirectional: bool = False):
    """A torch RNN that returns the last state, as Keras's return_sequences off."""
    import torch

    class Last(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            make = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}
            self.rnn = make[kind](
                FEATURES, UNITS, batch_first=True, bidirectional=bidirectional
            )

        def forward(self, x):
            _, h = self.rnn(x)
            h = h[0] if isinstance(h, tuple) else h  # (directions, B, units)
            return torch.cat(list(h), dim=1)  # (B, directions * units)

    return Last()


def cases() -> list[Case]:
    from torch import nn

    img, chans = (B, 28, 28, 32), 32
    seq = (SEQ_B, T, FEATURES)
    return [
        Case(
            "conv1d",
            {"type": "conv1d", "filters": 64, "kernel_size": 5, "padding": "same"},
            (B, 100, 32),
            lambda: nn.Conv1d(32, 64, 5, padding=2),
            _ncl,
        ),
        Case(
            "conv2d",
            {"type": "conv2d", "filters": 32, "kernel_size": 3, "padding": "same"},
            img,
            lambda: nn.Conv2d(chans, 32, 3, padding=1),
            _nchw,
        ),
        Case(
            "conv2d_strides2",
            {
                "type": "conv2d",
                "filters": 64,
                "kernel_size": 3,
                "strides": 2,
                "padding": "same",
            },
            img,  # torch pads 1 each side: the same 14x14 output, same work
            lambda: nn.Conv2d(chans, 64, 3, stride=2, padding=1),
            _nchw,
        ),
        Case(
            "conv2d_transpose",
            {
                "type": "conv2d_transpose",
                "filters": 16,
                "kernel_size": 3,
                "strides": 2,
                "padding": "same",
            },
            (B, 14, 14, 32),
            lambda: nn.ConvTranspose2d(32, 16, 3, 2, padding=1, output_padding=1),
            _nchw,
        ),
        Case(
            "depthwise_conv2d",
            {"type": "depthwise_conv2d", "kernel_size": 3, "padding": "same"},
            img,
            lambda: nn.Conv2d(chans, chans, 3, padding=1, groups=chans),
            _nchw,
        ),
        Case(
            "separable_conv2d",
            {
                "type": "separable_conv2d",
                "filters": 64,
                "kernel_size": 3,
                "padding": "same",
            },
            img,
            lambda: nn.Sequential(
                nn.Conv2d(chans, chans, 3, padding=1, groups=chans, bias=False),
                nn.Conv2d(chans, 64, 1),
            ),
            _nchw,
        ),
        Case(
            "max_pooling2d",
            {"type": "max_pooling2d", "pool_size": 2},
            img,
            lambda: nn.MaxPool2d(2),
            _nchw,
        ),
        Case(
            "average_pooling2d",
            {"type": "average_pooling2d", "pool_size": 2},
            img,
            lambda: nn.AvgPool2d(2),
            _nchw,
        ),
        Case(
            "batch_normalization",
            {"type": "batch_normalization"},
            img,
            lambda: nn.BatchNorm2d(chans, eps=1e-3, momentum=0.01),
            _nchw,
        ),
        Case(
            "layer_normalization",
            {"type": "layer_normalization"},
            (SEQ_B, T, 128),
            lambda: nn.LayerNorm(128, eps=1e-3),
            _same,
        ),
        Case(
            "embedding",
            {"type": "embedding", "input_dim": 5000, "output_dim": 64},
            (SEQ_B, T),
            lambda: nn.Embedding(5000, 64),
            _same,
            ids=5000,
        ),
        Case(
            "simple_rnn",
            {"type": "simple_rnn", "units": UNITS},
            seq,
            lambda: _torch_rnn("rnn"),
            _same,
        ),
        Case(
            "gru",
            {"type": "gru", "units": UNITS},
            seq,
            lambda: _torch_rnn("gru"),
            _same,
        ),
        Case(
            "lstm",
            {"type": "lstm", "units": UNITS},
            seq,
            lambda: _torch_rnn("lstm"),
            _same,
        ),
        Case(
            "bidirectional(lstm)",
            {"type": "bidirectional", "layer": {"type": "lstm", "units": UNITS}},
            seq,
            lambda: _torch_rnn("lstm", bidirectional=True),
            _same,
        ),
    ]


def inputs(case: Case, rng: np.random.Generator) -> np.ndarray:
    if case.ids:
        return rng.integers(case.ids, size=case.in_shape)  # (batch, T) ids
    return rng.standard_normal(case.in_shape, dtype=np.float32)


def nncli_call(case: Case, x: np.ndarray):
    """One forward (training) + backward of the layer, as `Sequential` runs it."""
    from nncli.engine.backend import Backend
    from nncli.engine.network import Sequential

    backend = Backend.from_name("numpy")
    net = Sequential.from_config([case.cfg])
    out = net.build(case.in_shape[1:], backend, np.random.default_rng(0))
    layer = net.layers[0]
    xb = x if case.ids else backend.asarray(x)
    dy = backend.asarray(np.random.default_rng(1).standard_normal((len(x), *out)))
    need_dx = not case.ids

    def call() -> None:
        y, cache = layer.forward(xb, training=True)
        layer.backward(dy, cache, need_dx=need_dx)

    return call, out


def torch_call(case: Case, x: np.ndarray, out: tuple[int, ...]):
    import torch

    torch.manual_seed(0)
    module = case.torch_layer().train()
    xt = torch.from_numpy(case.to_torch(x))
    xt.requires_grad_(not case.ids)
    dy = np.random.default_rng(1).standard_normal((len(x), *out), dtype=np.float32)
    dyt = torch.from_numpy(case.to_torch(dy))

    def call() -> None:
        module.zero_grad(set_to_none=True)
        xt.grad = None
        module(xt).backward(dyt)

    return call


def block(call: Callable, n: int) -> float:
    """Seconds per call, over n calls."""
    t = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - t) / n


def bench_case(case: Case, repeats: int, block_s: float) -> dict:
    x = inputs(case, np.random.default_rng(0))
    nn_call, out = nncli_call(case, x)
    sides = {"nncli": nn_call, "torch": torch_call(case, x, out)}
    calls = {k: max(1, math.ceil(block_s / block(f, 2))) for k, f in sides.items()}
    times: dict[str, list[float]] = {k: [] for k in sides}
    busy, own, start = machine_busy_seconds(), cpu_seconds(), time.perf_counter()
    for _ in range(repeats):
        for name, call in sides.items():
            times[name].append(block(call, calls[name]))
    wall = time.perf_counter() - start
    foreign = (machine_busy_seconds() - busy - (cpu_seconds() - own)) / wall
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "layer": case.name,
        "input": list(case.in_shape),
        "output": [len(x), *out],
        "nncli_ms": 1e3 * med["nncli"],
        "torch_ms": 1e3 * med["torch"],
        "ratio": med["nncli"] / med["torch"],
        "calls_per_block": calls,
        "foreign_cores": max(foreign, 0.0),
    }


def table(rows: list[dict]) -> str:
    head = f"{'layer':<20} {'input':<16} {'output':<16} {'nncli ms':>9} "
    head += f"{'torch ms':>9} {'ratio':>6} {'others':>6}"
    lines = [head]
    for r in rows:
        shape_in = "x".join(map(str, r["input"]))
        shape_out = "x".join(map(str, r["output"]))
        lines.append(
            f"{r['layer']:<20} {shape_in:<16} {shape_out:<16} {r['nncli_ms']:>9.2f} "
            f"{r['torch_ms']:>9.2f} {r['ratio']:>6.2f} {r['foreign_cores']:>6.2f}"
        )
    ratios = [r["ratio"] for r in rows]
    geo = math.exp(statistics.fmean(math.log(v) for v in ratios))
    lines.append(f"geometric mean of the ratios: {geo:.2f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="blocks per side")
    parser.add_argument("--block", type=float, default=0.1, help="seconds a block")
    parser.add_argument("--threads", type=int, default=2, help="torch and BLAS")
    parser.add_argument("--only", default="", help="comma-separated layer names")
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = parser.parse_args()
    import torch
    from threadpoolctl import threadpool_info, threadpool_limits

    torch.set_num_threads(args.threads)
    chosen = [c for c in cases() if not args.only or c.name in args.only.split(",")]
    with threadpool_limits(limits=args.threads, user_api="blas"):
        blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
        print(
            f"one layer, forward + backward, float32; torch threads={args.threads} "
            f"BLAS threads={blas} repeats={args.repeats} torch={torch.__version__} "
            f"numpy={np.__version__}",
            flush=True,
        )
        rows = [bench_case(c, args.repeats, args.block) for c in chosen]
    print(table(rows))
    print(
        "ms: median per call; ratio: nncli / torch; others: cores other processes used"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": args.threads, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
