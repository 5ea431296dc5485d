"""Training speed of nncli's LSTM against PyTorch, in the same run (W5).

Workload W5 of the speed issue: LSTM(64) over 50 steps of 8 features, then
Dense(1), mean squared error, Adam, 5,000 float32 samples, batch 64 (79 steps
an epoch). Random sequences and targets: only time counts.

Usage: python bench/bench_rnn.py [--repeats 5] [--threads 2]
Needs torch (`pip install torch==2.13.0`). After one warm-up epoch each, the
two sides run epoch by epoch in turn (the machine's load hits both alike);
prints the median seconds per epoch, steps/s and the ratio nncli / torch
(lower is better; 1.0 = as fast as torch). Both sides use the same gates
(PyTorch's nn.LSTM, batch_first, on its CPU kernels). Absolute times depend
on the machine and its load: compare ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

SAMPLES, BATCH, STEPS, FEATURES, UNITS = 5000, 64, 50, 8, 64


def data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((SAMPLES, STEPS, FEATURES), dtype=np.float32)
    return x, rng.standard_normal((SAMPLES, 1), dtype=np.float32)


def nncli_epoch(x: np.ndarray, y: np.ndarray):
    from nncli.engine.backend import Backend
    from nncli.engine.losses import losses
    from nncli.engine.network import Model, Sequential
    from nncli.engine.optimizers import optimizers

    backend = Backend.from_name("numpy")
    net = Sequential.from_config(
        [{"type": "lstm", "units": UNITS}, {"type": "dense", "units": 1}]
    )
    net.build((STEPS, FEATURES), backend, np.random.default_rng(0))
    loss = losses.create("mean_squared_error")
    model = Model(net, loss, optimizers.create({"type": "adam"}))
    xb, yb = backend.asarray(x), backend.asarray(y)

    def run() -> float:
        for i in range(0, SAMPLES, BATCH):
            value, _ = model.train_step(xb[i : i + BATCH], yb[i : i + BATCH])
        return float(value)

    return run


def torch_epoch(x: np.ndarray, y: np.ndarray):
    import torch

    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = torch.nn.LSTM(FEATURES, UNITS, batch_first=True)
            self.out = torch.nn.Linear(UNITS, 1)

        def forward(self, x):
            _, (h, _) = self.lstm(x)
            return self.out(h[-1])

    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.MSELoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

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
        f"W5 LSTM({UNITS}) over {STEPS} steps of {FEATURES} features: {SAMPLES} "
        f"samples, batch {BATCH}, {-(-SAMPLES // BATCH)} steps/epoch; torch "
        f"threads={args.threads} BLAS threads={blas or 'default'} "
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
