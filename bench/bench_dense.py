"""Training-step speed of nncli's Dense engine against PyTorch, in the same run.

Usage: python bench/bench_dense.py [--repeats 7] [--threads 1]
Needs torch (`pip install torch==2.13.0`); prints medians and the ratio
nncli / torch for each configuration (lower is better; 1.0 = as fast as torch).
Absolute times depend on the machine and its load: compare ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

CONFIGS = [  # (batch, widths)
    (32, [2, 16, 16, 1]),
    (32, [30, 64, 64, 1]),
    (256, [784, 256, 128, 10]),
]


def nncli_step(batch, widths, steps):
    from nncli.engine.backend import Backend
    from nncli.engine.layers import Dense
    from nncli.engine.losses import losses
    from nncli.engine.network import Model, Sequential
    from nncli.engine.optimizers import optimizers

    backend = Backend.from_name("numpy")
    rng = np.random.default_rng(0)
    acts = ["relu"] * (len(widths) - 2) + ["softmax" if widths[-1] > 1 else "sigmoid"]
    net = Sequential([Dense(w, activation=a) for w, a in zip(widths[1:], acts)])
    net.build((widths[0],), backend, rng)
    loss = losses.create(
        "categorical_crossentropy" if widths[-1] > 1 else "binary_crossentropy"
    )
    model = Model(net, loss, optimizers.create({"type": "adam"}))
    x = backend.asarray(rng.normal(size=(batch, widths[0])))
    y = backend.asarray(
        np.eye(widths[-1])[rng.integers(widths[-1], size=batch)]
        if widths[-1] > 1
        else rng.integers(2, size=(batch, 1))
    )

    def run():
        for _ in range(steps):
            model.train_step(x, y)

    return run


def torch_step(batch, widths, steps):
    import torch

    torch.manual_seed(0)
    layers = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    x = torch.randn(batch, widths[0])
    if widths[-1] > 1:
        y = torch.randint(widths[-1], (batch,))
        loss_fn = torch.nn.CrossEntropyLoss()
    else:
        y = torch.randint(2, (batch, 1)).float()
        loss_fn = torch.nn.BCEWithLogitsLoss()

    def run():
        for _ in range(steps):
            opt.zero_grad()
            loss_fn(net(x), y).backward()
            opt.step()

    return run


def median_time(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS/torch threads for both sides (default 1)",
    )
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    print(
        f"threads={args.threads} steps={args.steps} repeats={args.repeats} "
        f"torch={torch.__version__} numpy={np.__version__} "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}"
    )
    print(
        f"{'batch':>5} {'widths':<18} {'nncli ms/step':>14} {'torch ms/step':>14} "
        f"{'ratio':>6}"
    )
    for batch, widths in CONFIGS:
        ours = median_time(nncli_step(batch, widths, args.steps), args.repeats)
        ref = median_time(torch_step(batch, widths, args.steps), args.repeats)
        print(
            f"{batch:>5} {'-'.join(map(str, widths)):<18} "
            f"{1e3 * ours / args.steps:>14.3f} {1e3 * ref / args.steps:>14.3f} "
            f"{ours / ref:>6.2f}"
        )


if __name__ == "__main__":
    main()
