"""The `nncli` command: parse arguments, call library functions, map errors to exit codes.

Exit codes: 0 ok, 1 failure (I/O, run files), 2 invalid spec or usage,
3 data error, 4 training diverged, 5 quality gate failed, 130 interrupted
(143 on SIGTERM), 141 the reader of stdout closed it (`nncli runs | head`).
"""

from __future__ import annotations

import json
import math
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from nncli.errors import (
    EXIT_GATE,
    EXIT_INTERRUPTED,
    EXIT_PIPE,
    EXIT_TERMINATED,
    NncliError,
    NothingToResume,
)
from nncli.usage import UsageGroup

app = typer.Typer(
    name="nncli",
    cls=UsageGroup,  # usage errors as one line, or JSON with --json
    help="Train neural networks from one YAML spec.\n\n"
    "Example: nncli train specs/moons.yaml && nncli eval runs/<run-dir>",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)

Debug = Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")]
JsonOut = Annotated[
    bool,
    typer.Option("--json", help="Print a JSON result on stdout; logs stay on stderr."),
]
Overrides = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="KEY=VALUE",
        help="Override a spec value, e.g. --set optimizer.learning_rate=0.01 (repeatable).",
    ),
]
SpecArg = Annotated[
    Path, typer.Argument(help="The spec file (YAML).", show_default=False)
]


def _dumps(obj: Any, indent: int = 2) -> str:
    """Strict JSON: NaN and infinities (which json.dumps would write as bare
    NaN/Infinity, invalid for jq) become null."""

    def clean(x: Any) -> Any:
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return [clean(v) for v in x]
        return x

    return json.dumps(clean(obj), indent=indent, allow_nan=False)


def _result(doc: dict[str, Any], exit_code: int = 0) -> dict[str, Any]:
    """A command's --json result, led by the same "ok" and "exit_code" keys as
    an error's, so `jq .exit_code` reads the process's exit code either way."""
    return {"ok": exit_code == 0, "exit_code": exit_code, **doc}


def _err(text: str) -> None:
    print(f"error: {text}", file=sys.stderr, flush=True)


def _guard(debug: bool, fn: Callable[[], int | None], json_out: bool = False) -> None:
    """Run a command body; turn library errors into one-line messages and exit codes.

    With `json_out`, a failure also prints `{"ok": false, ...}` on stdout, so a
    pipe into jq sees JSON either way.
    """
    from nncli.train.signals import Terminated

    try:
        code = fn() or 0
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
    except BrokenPipeError:  # `| head` has all it wants: stop quietly
        _quiet_stdout()
        raise typer.Exit(EXIT_PIPE) from None
    except NncliError as e:
        if debug:  # the traceback, and still the exit code scripts rely on
            traceback.print_exc()
            raise typer.Exit(e.exit_code) from None
        lines = e.lines()
        for line in lines:
            _err(line)
        if len(lines) > 1:
            print(f"{len(lines)} errors", file=sys.stderr)
        if json_out and not getattr(e, "json_written", False):
            print(
                _dumps(
                    {"ok": False, "exit_code": e.exit_code, "errors": lines}, indent=2
                )
            )
        raise typer.Exit(e.exit_code) from None
    except KeyboardInterrupt:
        if debug:
            raise
        _err("interrupted")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except Terminated:
        _err("terminated")
        raise typer.Exit(EXIT_TERMINATED) from None
    except OSError as e:  # library I/O is wrapped; this is our own output failing
        if debug:
            raise
        _err(f"cannot write output: {e.strerror or e}")
        raise typer.Exit(1) from None
    raise typer.Exit(code)


@app.command("train")
def train_cmd(
    spec: Annotated[
        Path | None,
        typer.Argument(
            help="The spec file (YAML); optional with --resume.", show_default=False
        ),
    ] = None,
    overrides: Overrides = None,
    runs_dir: Annotated[
        Path, typer.Option("--runs-dir", help="Where run directories are created.")
    ] = Path("runs"),
    init_weights: Annotated[
        Path | None,
        typer.Option("--init-weights", help="Start from these weights (.safetensors)."),
    ] = None,
    from_run: Annotated[
        Path | None,
        typer.Option(
            "--from",
            help="Start a new run from this run's final weights.",
            metavar="RUN",
        ),
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            "--resume",
            help="Continue this run from its last checkpoint, in its directory.",
            metavar="RUN",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Resume even if the spec differs from the run's."),
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="No progress; warnings and errors only."),
    ] = False,
    smoke: Annotated[
        bool,
        typer.Option(
            "--smoke",
            help="Check the spec, data and one training and one validation batch "
            "through the real code path; write no run directory (for CI).",
        ),
    ] = False,
    plot: Annotated[
        bool,
        typer.Option(
            "--plot",
            help="At the end, draw the boundary and curves into RUN/plot.png "
            "(needs the extra: pip install 'nncli[plot]').",
        ),
    ] = False,
    json_out: JsonOut = False,
    debug: Debug = False,
) -> None:
    """Train the model a spec describes and write a new run directory.

    Example: nncli train specs/moons.yaml --set epochs=20

    Resume: nncli train --resume runs/<run-dir> [--set epochs=40]

    CI check: nncli train specs/moons.yaml --smoke
    """
    if spec is None and resume is None:
        raise typer.BadParameter("give a spec file, or --resume RUN", param_hint="SPEC")

    def body() -> None:
        from nncli.report import make_reporter
        from nncli.train.run import prepare, prepare_resume, train

        if smoke and resume is not None:
            raise _usage("--smoke checks a spec; it cannot --resume a run")
        if resume is not None:
            if init_weights is not None or from_run is not None:
                raise _usage(
                    "--resume continues a run's own weights; drop "
                    "--init-weights / --from"
                )
            session = prepare_resume(resume, spec, overrides or [], force)
        else:
            assert spec is not None  # checked above
            if from_run is not None and init_weights is not None:
                raise _usage("give --from or --init-weights, not both")
            weights, option = init_weights, None
            if from_run is not None:
                from nncli.artifacts import RunReader

                weights = RunReader(from_run).weights_path()
                option = f"--from {from_run}"  # errors name what the user typed
            session = prepare(spec, overrides or [], weights, weights_option=option)
        if smoke:
            _smoke(session, json_out)
            return
        reporter = make_reporter(quiet=quiet)
        try:
            run_dir, summary = train(
                session, runs_dir, reporter, argv=sys.argv, resume=resume
            )
        except NothingToResume as e:  # success: a rerun script is idempotent
            print(e.lines()[0], file=sys.stderr)
            print(_dumps(_result(_train_json(e.summary))) if json_out else e.run_dir)
            return
        if plot:
            _plot_run(run_dir, reporter)
        reporter.info(_done_line(summary))
        if json_out:
            print(_dumps(_result(_train_json(summary)), indent=2))
        else:
            print(run_dir)

    _guard(debug, body, json_out)


def _logs_text(row: dict[str, Any]) -> str:
    return " - ".join(
        f"{k}: {v:.4f}"
        for k, v in row.items()
        if k not in ("epoch", "seconds", "learning_rate")
    )


def _done_line(summary: dict[str, Any]) -> str:
    """The last epoch's logs, and with restore_best_weights the logs of the
    epoch whose weights the run keeps."""
    final = summary.get("final", {})
    restored = summary.get("restored_weights_of_epoch")
    if restored is None:
        return f"done: {_logs_text(final)}"
    kept = _logs_text(summary.get("restored_metrics", {}))
    last = f"epoch {final['epoch']}: " if "epoch" in final else ""
    return (
        f"done: restored weights of epoch {restored} ({kept}); "
        f"last {last}{_logs_text(final)}"
    )


def _plot_run(run_dir: Path, reporter: Any) -> None:
    """`train --plot`: RUN/plot.png; a plot that cannot be drawn is a warning,
    never a failed run."""
    from nncli.figures import save_png
    from nncli.plot import PLOT, load_plot

    try:
        path = save_png([load_plot(run_dir)], run_dir / PLOT)
    except NncliError as e:
        hint = f"; nncli plot {run_dir} --terminal draws it as text"
        reporter.warn(f"--plot: {e.lines()[0]}{hint}")
        return
    reporter.info(f"plot: {path}")


def _smoke(session: Any, json_out: bool) -> None:
    """`train --smoke`: one line (or a JSON object) with the batches' logs."""
    from nncli.train.run import smoke

    for w in session.warnings:
        print(f"warning: {w}", file=sys.stderr)
    logs = smoke(session)
    if json_out:
        metrics = {k: v for k, v in logs.items() if k != "loss"}
        print(_dumps(_result({"loss": logs["loss"], "metrics": metrics})))
        return
    batches = "1 training batch" + (
        " and 1 validation batch" if "val_loss" in logs else ""
    )
    text = " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())
    print(f"smoke test passed ({batches}, nothing written): {text}")


def _usage(message: str) -> NncliError:
    from nncli.errors import SpecError

    return SpecError(message)


def _train_json(summary: dict[str, Any]) -> dict[str, Any]:
    final = dict(summary.get("final", {}))
    return {
        "run_dir": summary["run_dir"],
        "status": summary["status"],
        "epochs_run": summary["epochs_run"],
        "metrics": {
            k: v
            for k, v in final.items()
            if k not in ("epoch", "seconds", "learning_rate")
        },
        "learning_rate": final.get("learning_rate"),
        "best": summary.get("best", {}),
        "restored_weights_of_epoch": summary.get("restored_weights_of_epoch"),
        "restored_metrics": {
            k: v
            for k, v in summary.get("restored_metrics", {}).items()
            if k not in ("epoch", "seconds", "learning_rate")
        },
        "stopped": summary.get("stopped"),
        "seed": summary["seed"],
        "wall_seconds": summary.get("wall_seconds"),
    }


@app.command("validate")
def validate_cmd(
    spec: SpecArg,
    overrides: Overrides = None,
    json_out: JsonOut = False,
    debug: Debug = False,
) -> None:
    """Check a spec and its data without training (exit 0 when all is well).

    Example: nncli validate specs/iris.yaml
    """

    def body() -> None:
        from nncli.train.run import prepare

        s = prepare(spec, overrides or [])
        result = {
            "valid": True,
            "spec": str(spec),
            "output_shape": list(s.model.network.shapes[-1]),
            "train_samples": len(s.splits.train.x),
            "validation_samples": len(s.splits.validation.x)
            if s.splits.validation
            else 0,
            "classes": s.splits.prep.classes,
            "notes": s.splits.notes,
            "warnings": s.warnings,
        }
        if json_out:
            print(_dumps(_result(result), indent=2))
        else:
            for note in s.splits.notes:
                print(note, file=sys.stderr)
            for w in s.warnings:
                print(f"warning: {w}", file=sys.stderr)
            print(
                f"{spec}: valid - {result['train_samples']} training / "
                f"{result['validation_samples']} validation samples, output shape "
                f"{tuple(result['output_shape'])}"
            )

    _guard(debug, body, json_out)


@app.command("summary")
def summary_cmd(
    target: Annotated[Path, typer.Argument(help="A spec file or a run directory.")],
    overrides: Overrides = None,
    json_out: JsonOut = False,
    debug: Debug = False,
) -> None:
    """Show layers, output shapes and parameter counts (like Keras's model.summary()).

    Example: nncli summary specs/moons.yaml
    """

    def body() -> None:
        from nncli.inspect import model_table, session_for

        session = session_for(target, overrides or [])
        rows, total = model_table(session)
        fixed = sum(r["non_trainable"] for r in rows)
        if json_out:
            counts = {
                "total_params": total,
                "trainable_params": total - fixed,
                "non_trainable_params": fixed,
            }
            print(_dumps(_result({"layers": rows, **counts}), indent=2))
            return
        title = f"Model: {session.resolved['name']}"
        header = ["Layer (type)", "Output Shape", "Param #"]
        cells = [
            [
                f"{row['name']} ({row['type']})",
                str((None, *row["output_shape"])),  # Keras shows the batch axis
                f"{row['params']:,}",
            ]
            for row in rows
        ]
        _print_model_table(title, header, cells)
        print(f"Total params: {total:,}")
        print(f"Trainable params: {total - fixed:,}")
        print(f"Non-trainable params: {fixed:,}")

    _guard(debug, body, json_out)


def _print_model_table(title: str, header: list[str], cells: list[list[str]]) -> None:
    """A Rich table on a terminal; plain ASCII columns otherwise (a pipe, a
    log file), as `runs` and `compare` print theirs."""
    from nncli.report import interactive

    if not interactive(sys.stdout):
        _print_table(title, header, cells)
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text  # layer names are text, never Rich markup

    table = Table(title=title)
    for col in header:
        table.add_column(col, justify="right" if col == "Param #" else "left")
    for cell in cells:
        table.add_row(*(Text(c) for c in cell))
    Console().print(table)


@app.command("eval")
def eval_cmd(
    run: Annotated[Path, typer.Argument(help="A run directory.")],
    data: Annotated[
        Path | None,
        typer.Option(
            "--data", help="Evaluate on this file instead of the run's validation data."
        ),
    ] = None,
    fail_under: Annotated[
        list[str] | None,
        typer.Option(
            "--fail-under",
            metavar="METRIC=VALUE",
            help="Exit 5 when METRIC < VALUE (repeatable), e.g. accuracy=0.9.",
        ),
    ] = None,
    fail_over: Annotated[
        list[str] | None,
        typer.Option(
            "--fail-over",
            metavar="METRIC=VALUE",
            help="Exit 5 when METRIC > VALUE (repeatable), e.g. loss=0.3.",
        ),
    ] = None,
    confusion: Annotated[
        bool,
        typer.Option(
            "--confusion-matrix",
            help="Also show counts of true (rows) by predicted (columns) class.",
        ),
    ] = False,
    json_out: JsonOut = False,
    debug: Debug = False,
) -> None:
    """Score a finished run on its validation data (or --data); gate CI on the result.

    Example: nncli eval runs/moons-20260101-120000 --fail-under accuracy=0.9 --fail-over loss=0.5
    """

    def body() -> int:
        from nncli.evaluate import check_gates, evaluate_run, parse_gates

        under = parse_gates(fail_under or [], "--fail-under")
        over = parse_gates(fail_over or [], "--fail-over")
        result = evaluate_run(run, data, confusion=confusion)
        for w in result["warnings"]:
            print(f"warning: {w}", file=sys.stderr)
        failures = check_gates(result["metrics"], under, over, result["directions"])
        result["gates"] = {"passed": not failures, "failures": failures}
        code = EXIT_GATE if failures else 0
        if json_out:
            print(_dumps(_result(result, code), indent=2))
        else:
            print(f"{result['run']} on {result['data']} ({result['samples']} samples)")
            for k, v in result["metrics"].items():
                print(f"  {k}: {v:.6f}")
            if confusion:
                from nncli.report import print_confusion

                print_confusion(**result["confusion_matrix"])
        for f in failures:
            _err(f)
        return code

    _guard(debug, body, json_out)


@app.command("predict")
def predict_cmd(
    run: Annotated[Path, typer.Argument(help="A run directory.")],
    data: Annotated[
        Path,
        typer.Option(
            "--data", help="CSV or NPZ file of inputs (relative to this directory)."
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write the CSV to this file (whole or not at all)."),
    ] = None,
    json_out: JsonOut = False,
    debug: Debug = False,
) -> None:
    """Probabilities and labels of a finished run's model for new rows.

    The run's preprocessing is applied and class names are restored. Rows are
    read and predicted in chunks, so files larger than memory work. Output is
    CSV on stdout (or --out), one line per input row; --json gives
    {"columns", "predictions": [{"row", "output", "label"}], "samples"}, or
    with --out a summary of what was written.

    Example: nncli predict runs/iris-20260101-120000 --data new.csv --out preds.csv
    """

    def body() -> int:
        from nncli.predict import (
            atomic_output,
            first_ready,
            predictions,
            write_csv,
            write_json,
        )

        predictor, chunks = predictions(run, data)
        chunks = first_ready(chunks)  # a bad file fails before any output
        columns = predictor.columns()
        head = {"run": str(run), "run_dir": str(run), "data": str(data)}
        head["columns"] = columns
        if out is None:  # a closed pipe (`| head`) ends it quietly: see _guard
            if json_out:
                write_json(sys.stdout, head, chunks)
            else:
                write_csv(sys.stdout, columns, chunks)
            return 0
        with atomic_output(out) as f:
            n, skipped = write_csv(f, columns, chunks)
        if skipped:
            print(
                f"note: {skipped} of {n} rows have a missing value and no "
                "prediction (data.missing: drop)",
                file=sys.stderr,
            )
        if json_out:
            print(_dumps(_result({**head, "out": str(out), "samples": n})))
        else:
            print(f"{n} predictions written to {out}", file=sys.stderr)
        return 0

    _guard(debug, body, json_out)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so Python's final flush into a closed pipe
    does not print an error."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (a test runner)
        pass


@app.command("runs")
def runs_cmd(
    runs_dir: Annotated[
        Path, typer.Option("--runs-dir", help="The folder of run directories.")
    ] = Path("runs"),
    json_out: JsonOut = False,
    debug: Debug = False,
) -> None:
    """List the runs in a folder: status, epochs, key metric, loss, wall time.

    Oldest first: started, status, epochs run, the key metric's final and best
    value (with its epoch), the final validation loss (training loss without
    validation data) and the wall time.

    The key metric is the spec's first metric on validation data (else on
    training data, else the loss). A damaged run shows as `unreadable`.

    Example: nncli runs --runs-dir runs
    """

    def body() -> None:
        from nncli.runs import list_runs, runs_table

        runs = list_runs(runs_dir)
        if json_out:
            print(_dumps(_result({"runs_dir": str(runs_dir), "runs": runs})))
        elif not runs:
            print(f"no runs in {runs_dir}", file=sys.stderr)
        else:
            header, rows = runs_table(runs)
            fold = tuple(i for i, h in enumerate(header) if h in ("started", "metric"))
            _print_table(None, header, rows, fold=fold)

    _guard(debug, body, json_out)


@app.command("compare")
def compare_cmd(
    runs: Annotated[
        list[Path],
        typer.Argument(help="Two or more run directories.", metavar="RUN"),
    ],
    metric: Annotated[
        str | None,
        typer.Option(
            "--metric",
            help="Judge by this metrics.csv column (default: the key metric, "
            "e.g. val_accuracy).",
        ),
    ] = None,
    json_out: JsonOut = False,
    debug: Debug = False,
) -> None:
    """Compare runs: spec differences, metrics side by side, which is best.

    Shows the spec entries that differ, the final metrics side by side (with
    each one's best epoch where it differs), and which run is best on a
    metric, judged on final values.

    Example: nncli compare runs/moons-[0-9]* runs/moons-large-[0-9]*
    """

    def body() -> None:
        from nncli.runs import compare, compare_tables, verdict

        result = compare(runs, metric)
        if json_out:
            print(_dumps(_result(result)))
            return
        for title, header, rows in compare_tables(result):
            if rows:
                _print_table(title, header, rows, fold=tuple(range(1, len(header))))
            else:
                print(f"{title}: none")
            print()
        print(verdict(result))

    _guard(debug, body, json_out)


def _print_table(
    title: str | None,
    header: list[str],
    rows: list[list[str]],
    fold: tuple[int, ...] = (),
) -> None:
    """Aligned columns; on a terminal they fit its width (only the columns in
    `fold` wrap) and the header is bold. Plain text, no colour, otherwise."""
    from nncli.report import interactive
    from nncli.runs import plain_table

    if not interactive(sys.stdout):
        if title:
            print(title)
        print("\n".join(plain_table(header, rows)))
        return
    from rich.console import Console
    from rich.text import Text  # names and values are text, never markup

    console = Console(highlight=False)
    lines = plain_table(header, rows, width=console.width, fold=fold)
    n_head = len(plain_table(header, [], width=console.width, fold=fold))
    if title:
        console.print(Text(title, style="bold"))
    for k, line in enumerate(lines):
        console.print(Text(line, style="bold" if k < n_head else ""), soft_wrap=True)


@app.command("plot")
def plot_cmd(
    runs: Annotated[
        list[Path],
        typer.Argument(help="One or more run directories.", metavar="RUN"),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write one PNG with all the runs side by side here."
        ),
    ] = None,
    terminal: Annotated[
        bool,
        typer.Option("--terminal", help="Draw in the terminal instead of a PNG."),
    ] = False,
    json_out: JsonOut = False,
    debug: Debug = False,
) -> None:
    """Draw runs' decision boundaries and training curves (PNG or text).

    For each run: the decision boundary over its data (models of 2 input
    features), and its loss and metric curves (training and validation).

    PNG files: RUN/plot.png for each run, and for several runs one picture
    with them side by side (compare-RUN-vs-RUN.png beside the first run, or
    --out). PNGs need matplotlib: pip install 'nncli[plot]'. Without it, or
    with --terminal, the curves and a coarse boundary map are drawn as text.

    Example: nncli plot runs/moons-[0-9]* runs/moons-large-[0-9]*
    """

    def body() -> None:
        from nncli.figures import save_png
        from nncli.plot import EXTRA, default_outputs, have_matplotlib, load_plot

        if out is not None and terminal:
            raise _usage("--terminal draws no file; drop --out or --terminal")
        if not terminal and not have_matplotlib():
            if out is not None:
                from nncli.plot import PlotUnavailable

                raise PlotUnavailable(
                    f"--out {out}: PNG plots need matplotlib, which is not "
                    f"installed: {EXTRA}"
                )
            print(
                "warning: PNG plots need matplotlib, which is not installed: "
                f"{EXTRA}; drawing in the terminal instead",
                file=sys.stderr,
            )
        plots = [load_plot(r) for r in runs]
        files = []
        if terminal or not have_matplotlib():
            _print_plots(plots, sys.stderr if json_out else sys.stdout)
        elif out is not None:
            files.append(save_png(plots, out))
        else:
            own, side = default_outputs(runs)
            files += [save_png([p], path) for p, path in zip(plots, own)]
            if side is not None:
                files.append(save_png(plots, side))
        if json_out:
            result = {
                "files": [str(f) for f in files],
                "runs": [
                    {
                        "run": str(r),
                        "run_dir": str(r),
                        "boundary": p.field is not None,
                        "notes": p.notes,
                    }
                    for r, p in zip(runs, plots)
                ],
            }
            print(_dumps(_result(result)))
            return
        for p in plots:
            for note in p.notes:
                print(f"note: {p.name}: {note}", file=sys.stderr)
        for f in files:
            print(f)

    _guard(debug, body, json_out)


def _print_plots(plots: list[Any], stream: Any) -> None:
    """Each run's boundary map and curves as text, as wide as the terminal."""
    from rich.console import Console

    from nncli.termplot import render

    console = Console(file=stream, highlight=False, soft_wrap=True)
    full = console.color_system in ("256", "truecolor")
    for k, plot in enumerate(plots):
        if k:
            console.print()
        for line in render(plot, console.width, full):
            console.print(line)


@app.command("schema")
def schema_cmd(debug: Debug = False) -> None:
    """Print the spec's JSON Schema (for editor completion and checking).

    Example: nncli schema > nncli-spec.schema.json
    """

    def body() -> None:
        from nncli.spec.schema import run_spec_model

        schema = run_spec_model().model_json_schema()
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["title"] = "nncli spec"
        print(_dumps(schema, indent=2))

    _guard(debug, body)


def _version(value: bool) -> None:
    if value:
        from nncli import __version__

        print(f"nncli {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Train neural networks from one YAML spec."""


def main() -> None:
    app()
