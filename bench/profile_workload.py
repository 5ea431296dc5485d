"""Where nncli's time goes in one benchmark workload (the profiles of RESULTS.md).

(Not bench/profile.py: bench/ is on the workers' path, and that name would
shadow the standard library's profile module, which torch imports.)

Usage (from a clean clone, after `pip install -e '.[bench]'`):
    python bench/profile_workload.py W4 --threads 1

Builds nncli's trainer of bench/run.py for the workload on the same data,
trains one warm-up epoch, prints the seconds of three more, then profiles
`--epochs` epochs (default 2) with pyinstrument and prints the call tree, and
the seconds spent in the optimizer's step (a timer wrapped around it).
`--threads` sets the BLAS threads (default 2, as bench/run.py; 1 gives
profiles that another process on the machine disturbs less).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", help="W1 ... W5")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2, help="epochs profiled")
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    sys.path[:0] = [str(HERE), str(HERE.parent)]
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # the optimizer's threads
    from trainers import make_trainer
    from workloads import WORKLOADS, make_data

    import nncli.engine.optimizers as optimizers

    w = next((w for w in WORKLOADS if w.key == args.workload), None)
    if w is None:
        parser.error(f"no workload {args.workload} (known: W1 ... W5)")
    spent = [0.0]
    step = optimizers.Optimizer.step

    def timed_step(self, params, grads):
        start = time.perf_counter()
        step(self, params, grads)
        spent[0] += time.perf_counter() - start

    optimizers.Optimizer.step = timed_step
    with threadpool_limits(args.threads, user_api="blas"):
        x, y = make_data(w, w.n_samples)
        trainer = make_trainer("nncli", w, x, y)
        trainer.epoch()  # warm-up
        times = []
        for _ in range(3):
            spent[0] = 0.0
            start = time.perf_counter()
            trainer.epoch()
            times.append(time.perf_counter() - start)
        print(
            f"{w.key}: {w.title}; {args.threads} BLAS thread(s)\n"
            f"seconds an epoch: {', '.join(f'{t:.3f}' for t in times)}; "
            f"optimizer step in the last: {spent[0]:.3f}"
        )
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
        profiler.start()
        for _ in range(args.epochs):
            trainer.epoch()
        profiler.stop()
    print(profiler.output_text(unicode=False, color=False))


if __name__ == "__main__":
    main()
