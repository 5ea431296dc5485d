"""Training speed of nncli's convolutions against PyTorch, in the same run (W4).

Workload W4 of the speed issue: Conv2D(32, 3, relu) - MaxPooling2D(2) -
Conv2D(64, 3, relu) - MaxPooling2D(2) - Flatten - Dense(10, softmax) on
28x28x1 float32 images, 5,000 samples, batch 64 (79 steps an epoch), Adam,
sparse categorical cross-entropy. Random images and labels: only time counts.

Usage: python bench/bench_conv.py [--repeats 5] [--threads 2]
Needs torch (`pip install torch==2.13.0`). After one warm-up epoch each, the
two sides run epoch by epoch in turn (the machine's load hits both alike);
prints the median seconds per epoch, steps/s and the ratio nncli / torch
(lower is better; 1.0 = as fast as torch). PyTorch runs in its native
channels-first layout; nncli channels-last, as Keras. Absolute times depend
on the machine and its load: compare ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

SAMPLES, BATCH, SIZE, CLASSES = 5000, 64, 28, 10


def data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((SAMPLES, SIZE, SIZE, 1), dtype=np.float32)  # (n, h, w, 1)
    return x, rng.integers(CLASSES, size=SAMPLES)


def nncli_epoch(x: np.ndarray, y: np.ndarray):
    from nncli.engine.backend import Backend
    from nncli.engine.losses import losses
    from nncli.engine.network import Model, Sequential
    from nncli.engine.optimizers import optimizers

    backend = Backend.from_name("numpy")
    net = Sequential.from_config(
        [
            {"type": "conv2d", "filters": 32, "kernel_size": 3, "activation": "relu"},
            {"type": "max_pooling2d"},
            {"type": "conv2d", "filters": 64, "kernel_size": 3, "activation": "relu"},
            {"type": "max_pooling2d"},
            {"type": "flatten"},
            {"type": "dense", "units": CLASSES, "activation": "softmax"},
        ]
    )
    net.build((SIZE, SIZE, 1), backend, np.random.default_rng(0))
    loss = losses.create("sparse_categorical_crossentropy")
    model = Model(net, loss, optimizers.create({"type": "adam"}))
    xb, yb = backend.asarray(x), backend.asarray(y, dtype=np.int64)

    def run() -> float:
        for i in range(0, SAMPLES, BATCH):
            value, _ = model.train_step(xb[i : i + BATCH], yb[i : i + BATCH])
        return float(value)

    return run


def torch_epoch(x: np.ndarray, y: np.ndarray):
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(64 * 5 * 5, CLASSES),
    )
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))  # NCHW
    yt = torch.from_numpy(y)

    def run() -> float:
        for i in range(0, SAMPLES, BATCH):
            opt.zero_grad()
            value = loss_fn(net(xt[i : i + BATCH]), yt[i : i + BATCH])
            value.backward()
            opt.step()
        return float(value.detach())

    return run


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed epochs each")
    parser.add_argument(
        "--threads",
        type=int,
        default=2,
        help="torch threads; set OPENBLAS_NUM_THREADS (or OMP_NUM_THREADS) to the "
        "same number before starting, for numpy's BLAS (default 2)",
    )
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    blas = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")
    print(
        f"W4 conv: {SAMPLES} samples, batch {BATCH}, {-(-SAMPLES // BATCH)} steps/epoch; "
        f"torch threads={args.threads} BLAS threads={blas or 'default'} "
        f"repeats={args.repeats} torch={torch.__version__} numpy={np.__version__}"
    )
    x, y = data()
    sides = {"nncli": nncli_epoch(x, y), "torch": torch_epoch(x, y)}
    for run in sides.values():
        run()  # warm-up epoch
    times: dict[str, list[float]] = {k: [] for k in sides}
    for _ in range(args.repeats):
        for name, run in sides.items():
            times[name].append(timed(run))
    steps = -(-SAMPLES // BATCH)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{'':>6} {'s/epoch (median)':>17} {'steps/s':>8} {'all epochs (s)':<30}")
    for name, t in med.items():
        every = " ".join(f"{v:.2f}" for v in times[name])
        print(f"{name:>6} {t:>17.3f} {steps / t:>8.1f} {every:<30}")
    print(f"ratio nncli / torch: {med['nncli'] / med['torch']:.2f}")


if __name__ == "__main__":
    main()
