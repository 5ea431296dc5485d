"""CPU benchmark: nncli against PyTorch and Keras 3 (JAX), float32, 2 threads.

Usage (from a clean clone):
    pip install -e '.[bench]'
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/run.py

Per workload (bench/workloads.py) every framework trains in its own worker
process; after one warm-up epoch each, the parent asks the workers for one
epoch at a time, in turn, rotating who goes first, so machine noise falls on
all of them alike. It prints the median seconds per epoch, steps/s, the final
training loss and accuracy, the ratio nncli / each peer (the median of the
per-round ratios), the GEMM efficiency (GEMM FLOPs / (seconds x this
machine's measured float32 GEMM rate)) and the peak memory (the worker's
peak RSS, and its growth over the RSS after imports and data loading). Then
whole processes: `nncli --help` and the seed job (`nncli train
specs/moons.yaml`) against bench/peers/seed_{torch,keras}.py, imports included.

A shared machine is noisy: the parent reads /proc/stat around every request
and drops a round in which other processes used more than --foreign-max
cores during any framework's epochs, repeating it (up to 3x the repeats);
the table says how many rounds were kept. Short epochs are run several at a
time (at least 0.3 s a request) so that the accounting can see them.

--quick shrinks every workload and repeat count (to check the harness, not to
measure). --json FILE also writes every number as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
THREADS = int(os.environ.get("NNCLI_BENCH_THREADS", "2"))
SETTLE_S = 0.2  # pause between epochs: idle OpenMP threads spin for a while
FOREIGN_MAX = 0.15  # cores used by other processes during an epoch, at most
ASK_S = 0.3  # seconds of training per request, at least (short epochs repeat)
PEERS = ("torch", "keras")


def worker_env(keep_openblas: bool = False) -> dict[str, str]:
    """The environment of every measured process: 2 threads everywhere."""
    env = dict(os.environ)
    if not keep_openblas:  # see the note in bench/RESULTS.md
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OPENBLAS_L2_SIZE", None)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(THREADS)
    env["NNCLI_BENCH_THREADS"] = str(THREADS)
    env["KERAS_BACKEND"] = "jax"
    env["JAX_PLATFORMS"] = "cpu"
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(HERE), str(ROOT), env.get("PYTHONPATH", "")) if p
    )
    return env


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds() -> float:
    """CPU time of this process, all its threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_busy_seconds() -> float:
    """CPU time every process on the machine has used (from /proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:8]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- worker side --------------------------------------------------------------


def worker(framework: str, key: str, data: str) -> None:
    """Build one trainer, say ready, then answer one request a line."""
    import numpy as np

    if framework == "torch":
        import torch

        torch.set_num_threads(THREADS)
    from trainers import make_trainer
    from workloads import WORKLOADS

    w = next(w for w in WORKLOADS if w.key == key)
    with np.load(data) as f:
        x, y = f["x"], f["y"]
    base = rss_mib()
    trainer = make_trainer(framework, w, x, y)
    reply({"ready": True, "base_mib": base})
    for line in sys.stdin:
        if line.startswith("epoch"):  # "epoch K": K epochs, their mean time
            k = int(line.split()[1]) if len(line.split()) > 1 else 1
            t, cpu = time.perf_counter(), cpu_seconds()
            for _ in range(k):
                loss, acc = trainer.epoch()
            s = (time.perf_counter() - t) / k
            cpu = (cpu_seconds() - cpu) / k
            reply({"s": s, "cpu": cpu, "loss": loss, "acc": acc, "k": k})
        elif line.strip() == "stats":
            reply({"peak_mib": peak_rss_mib()})
        else:
            return


def reply(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def gemm_worker(n: int) -> None:
    """Print this machine's float32 GEMM rate (numpy/OpenBLAS) and BLAS info."""
    import numpy as np
    from threadpoolctl import threadpool_info

    rng = np.random.default_rng(0)
    rate = 0.0  # the best of several sizes and tries: what the BLAS can do here
    for size in (n // 2, n):
        a = rng.random((size, size), dtype=np.float32)
        b = rng.random((size, size), dtype=np.float32)
        out = np.empty_like(a)
        for _ in range(7):
            t = time.perf_counter()
            np.matmul(a, b, out=out)
            rate = max(rate, 2 * size**3 / (time.perf_counter() - t) / 1e9)
    blas = [
        {
            k: i.get(k)
            for k in ("internal_api", "version", "architecture", "num_threads")
        }
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    ]
    reply({"gflops": rate, "n": n, "blas": blas})


# --- parent side --------------------------------------------------------------


class Worker:
    def __init__(self, framework: str, key: str, data: Path, env: dict) -> None:
        self.framework = framework
        cmd = [sys.executable, str(HERE / "run.py"), "--worker", framework, key]
        self.proc = subprocess.Popen(
            [*cmd, str(data)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.ready = self.read()

    def read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read().strip().splitlines()
            raise RuntimeError(f"{self.framework} worker died: {err[-1:] or '?'}")
        return json.loads(line)

    def ask(self, what: str) -> dict:
        self.proc.stdin.write(what + "\n")
        self.proc.stdin.flush()
        return self.read()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def bench_workload(w, frameworks, repeats, folder, env, n_samples) -> dict:
    """Alternate epochs between the frameworks' workers; collect the numbers."""
    import numpy as np
    from trainers import available
    from workloads import make_data

    result = {"key": w.key, "title": w.title, "frameworks": {}, "skipped": {}}
    for fw in frameworks:
        reason = available(fw, w)
        if reason:
            result["skipped"][fw] = reason
    runnable = [fw for fw in frameworks if fw not in result["skipped"]]
    if "nncli" not in runnable:
        return result
    result["load_before"] = os.getloadavg()[0]  # others' work on the machine
    x, y = make_data(w, n_samples)
    data = folder / f"{w.key}.npz"
    np.savez(data, x=x, y=y)
    workers = {}
    try:
        for fw in runnable:
            try:
                workers[fw] = Worker(fw, w.key, data, env)
            except RuntimeError as e:
                result["skipped"][fw] = str(e)
        per_ask = {}  # epochs per request: at least ASK_S of work, so the
        # CPU accounting of /proc/stat (10 ms ticks) can tell a busy machine
        for fw, wk in workers.items():  # warm-up epoch (Keras compiles here)
            wk.ask("epoch")
            once = wk.ask("epoch")["s"]
            per_ask[fw] = max(1, min(50, round(ASK_S / max(once, 1e-4))))
        rounds, dirty = [], 0
        names = list(workers)
        # a round is clean when no epoch in it shared the CPUs with other
        # processes; dirty rounds are repeated, up to 3x the repeats in all
        while len(rounds) < repeats and len(rounds) + dirty < 3 * repeats:
            r = len(rounds) + dirty
            order = names[r % len(names) :] + names[: r % len(names)]
            epochs = {}
            for fw in order:
                time.sleep(SETTLE_S)
                before = machine_busy_seconds()
                e = epochs[fw] = workers[fw].ask(f"epoch {per_ask[fw]}")
                foreign = (machine_busy_seconds() - before) / e["k"] - e["cpu"]
                e["foreign"] = foreign / e["s"]  # cores used by others
            if max(e["foreign"] for e in epochs.values()) <= FOREIGN_MAX:
                rounds.append(epochs)
            else:
                dirty += 1
                last_dirty = epochs
        result["clean_rounds"], result["dirty_rounds"] = len(rounds), dirty
        if len(rounds) < 3:  # too busy a machine: keep what was measured, say so
            rounds.append(last_dirty)
            result["noisy"] = True
        for fw, wk in workers.items():
            times = [rd[fw]["s"] for rd in rounds]
            result["frameworks"][fw] = {
                "median_s": statistics.median(times),
                "times": times,
                "loss": rounds[-1][fw]["loss"],
                "acc": rounds[-1][fw]["acc"],
                "base_mib": wk.ready["base_mib"],
                "peak_mib": wk.ask("stats")["peak_mib"],
            }
        for fw in workers:
            if fw != "nncli":
                ratios = [rd["nncli"]["s"] / rd[fw]["s"] for rd in rounds]
                result["frameworks"][fw]["ratio"] = statistics.median(ratios)
    finally:
        for wk in workers.values():
            wk.close()
    result["load_after"] = os.getloadavg()[0]
    result["steps"] = -(-n_samples // w.batch_size)
    result["n_samples"] = n_samples
    return result


def timed(cmd: list[str], env: dict, cwd: Path) -> float:
    t = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    s = time.perf_counter() - t
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr[-500:]}")
    return s


def bench_processes(repeats: int, env: dict, peers: tuple[str, ...]) -> dict:
    """Whole-process wall times, alternating: --help, then the seed job.

    nncli's modules are compiled to bytecode first, as `pip install` does for
    torch and keras (and Python does on a first run, unless
    PYTHONDONTWRITEBYTECODE is set, as on the development machine, where an
    editable install then compiles nncli's sources in every process).
    """
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(ROOT / "nncli")],
        env={k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"},
        check=True,
    )
    nncli = shutil.which("nncli", path=str(Path(sys.executable).parent))
    nncli_cmd = [nncli] if nncli else [sys.executable, "-m", "nncli"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        jobs = {
            "nncli --help": nncli_cmd + ["--help"],
            "python -c pass": [sys.executable, "-c", "pass"],
        }
        seed = {
            "nncli": nncli_cmd
            + ["train", str(ROOT / "specs/moons.yaml"), "-q", "--runs-dir", "runs"],
        }
        for peer in peers:
            seed[peer] = [sys.executable, str(HERE / "peers" / f"seed_{peer}.py")]
        out = {"help": {}, "seed": {}}
        for name, cmd in jobs.items():
            timed(cmd, env, tmp)
            out["help"][name] = statistics.median(
                timed(cmd, env, tmp) for _ in range(max(repeats, 5))
            )
        for cmd in seed.values():  # warm the file cache
            timed(cmd, env, tmp)
        times = {k: [] for k in seed}
        names = list(seed)
        for r in range(repeats):
            for k in names[r % len(names) :] + names[: r % len(names)]:
                times[k].append(timed(seed[k], env, tmp))
        out["seed"] = {k: statistics.median(v) for k, v in times.items()}
        out["seed_times"] = times
    return out


def machine(env: dict) -> dict:
    gemm = subprocess.run(
        [sys.executable, str(HERE / "run.py"), "--gemm", "2048"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    info = json.loads(gemm.stdout)
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = subprocess.run(
        [
            sys.executable,
            "-c",
            "import importlib.metadata as m\n"
            "for p in ('nncli','numpy','torch','keras','jax'):\n"
            "    try: print(p, m.version(p))\n"
            "    except Exception: print(p, '-')",
        ],
        env=env,
        capture_output=True,
        text=True,
    ).stdout.split()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "versions": dict(zip(versions[::2], versions[1::2])),
        "gemm_gflops": info["gflops"],
        "blas": info["blas"],
        "openblas_env_kept": "OPENBLAS_CORETYPE" in env,
    }


def fmt(v: float | None, spec: str = ".4f") -> str:
    return "-" if v is None else format(v, spec)


def report(mach: dict, results: list[dict], procs: dict | None) -> str:
    from workloads import WORKLOADS, gemm_flops_per_sample

    lines = [
        f"machine: {mach['cpu']}, {mach['cores']} cores, threads {THREADS}; "
        f"float32 GEMM {mach['gemm_gflops']:.0f} GFLOP/s (numpy, best of n=1024, 2048); "
        f"BLAS {mach['blas']}",
        f"python {mach['python']}; "
        + ", ".join(f"{k} {v}" for k, v in mach["versions"].items()),
        "",
        "| workload | framework | s/epoch | steps/s | loss | acc "
        "| nncli/this | GEMM eff. | peak RSS MiB (+train) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    flops = {w.key: gemm_flops_per_sample(w) for w in WORKLOADS}
    for res in results:
        for fw, r in res["frameworks"].items():
            gemm = flops[res["key"]] * res["n_samples"] / r["median_s"] / 1e9
            eff = gemm / mach["gemm_gflops"]
            lines.append(
                f"| {res['key']} | {fw} | {r['median_s']:.4f} "
                f"| {res['steps'] / r['median_s']:.0f} | {fmt(r['loss'])} "
                f"| {fmt(r['acc'])} | {fmt(r.get('ratio'), '.2f')} "
                f"| {eff:.1%} | {r['peak_mib']:.0f} "
                f"(+{r['peak_mib'] - r['base_mib']:.0f}) |"
            )
        if "load_after" in res:
            noisy = " NOISY: too few clean rounds," if res.get("noisy") else ""
            lines.append(
                f"| {res['key']} | ({res['clean_rounds']} clean rounds, "
                f"{res['dirty_rounds']} dropped,{noisy} load average "
                f"{res['load_before']:.1f} -> {res['load_after']:.1f}) | | | | | | | |"
            )
        for fw, why in res["skipped"].items():
            lines.append(f"| {res['key']} | {fw} | skipped: {why} | | | | | | |")
    if procs:
        lines += ["", "| whole process | median s |", "|---|---:|"]
        for name, s in procs["help"].items():
            lines.append(f"| `{name}` | {s:.3f} |")
        for name, s in procs["seed"].items():
            ratio = procs["seed"]["nncli"] / s if name != "nncli" else None
            extra = f" (nncli/this {ratio:.2f})" if ratio else ""
            lines.append(f"| seed job end to end: {name} | {s:.3f}{extra} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="W1,W2,W3,W4,W5")
    parser.add_argument("--frameworks", default="nncli,numpy,torch,keras")
    parser.add_argument("--repeats", type=float, default=1.0, help="scale repeats")
    parser.add_argument("--quick", action="store_true", help="tiny, for a check")
    parser.add_argument("--no-processes", action="store_true")
    parser.add_argument("--process-repeats", type=int, default=5)
    parser.add_argument("--keep-openblas-env", action="store_true")
    parser.add_argument(
        "--foreign-max",
        type=float,
        default=FOREIGN_MAX,
        help="drop a round when other processes used more cores than this "
        f"during one of its epochs (default {FOREIGN_MAX})",
    )
    parser.add_argument(
        "--threads", type=int, default=2, help="threads per framework (default 2)"
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--gemm", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(*args.worker)
    if args.gemm:
        return gemm_worker(args.gemm)
    from workloads import WORKLOADS

    os.environ["NNCLI_BENCH_THREADS"] = str(args.threads)
    globals()["THREADS"] = args.threads
    globals()["FOREIGN_MAX"] = args.foreign_max
    env = worker_env(args.keep_openblas_env)
    frameworks = args.frameworks.split(",")
    mach = machine(env)
    print(report(mach, [], None).split("\n\n")[0], flush=True)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for w in WORKLOADS:
            if w.key not in args.workloads.split(","):
                continue
            n = max(w.batch_size * 4, w.n_samples // 20) if args.quick else w.n_samples
            reps = 2 if args.quick else max(3, round(w.repeats * args.repeats))
            res = bench_workload(w, frameworks, reps, Path(tmp), env, n)
            results.append(res)
            print(
                report(mach, [res], None).split("|---|")[-1].split("\n", 1)[1],
                flush=True,
            )
    procs = None
    if not args.no_processes:
        peers = tuple(p for p in PEERS if p in frameworks)
        procs = bench_processes(2 if args.quick else args.process_repeats, env, peers)
    text = report(mach, results, procs)
    print("\n" + text)
    if args.json:
        args.json.write_text(
            json.dumps({"machine": mach, "workloads": results, "processes": procs})
        )


if __name__ == "__main__":
    main()
