"""CASE-027: progress bars must not flood non-interactive logs.

Sources: kr-colab/locator#14 (200k lines of Keras progress in a SLURM log),
keras-team/keras#10165 and PR #8171 (`\\r`/`\\b` written to redirected output),
MaxandreOgeret/collider#47 (bars in CI; honour `CI`). Real processes, so the
streams are really files, pipes or pseudo-terminals: whichever stream is not a
terminal gets plain lines (about one per epoch, no control characters), CI=true
counts as non-interactive even on a pty, NO_COLOR drops colours, and stdout
carries only the run directory. The checks are those of the case's
check_logs.py.
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys

import pytest
from casekit import case, child_env, nncli_cmd

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")

EPOCHS = 3


def log_problems(stdout: bytes, stderr: bytes, epochs: int = EPOCHS) -> list[str]:
    """check_logs.py from the case, as a function."""
    problems, texts = [], []
    for name, data in (("stdout", stdout), ("stderr", stderr)):
        text = data.decode("utf-8", "replace")
        texts.append(text)
        if b"\r" in data:
            problems.append(f"{name}: contains carriage returns")
        if b"\x08" in data:
            problems.append(f"{name}: contains backspaces")
        if b"\x1b[" in data:
            problems.append(f"{name}: contains ANSI escape sequences")
        if re.search("[\u2500-\u259f]", text):
            problems.append(f"{name}: contains box/bar-drawing characters")
    text = "\n".join(texts)
    n_lines = len([line for line in text.splitlines() if line.strip()])
    if n_lines > 5 * epochs + 20:
        problems.append(f"{n_lines} non-empty lines for {epochs} epochs")
    if not re.search(rf"(?i)epoch\D{{0,3}}{epochs}\b", text):
        problems.append(f"no per-epoch summary mentioning epoch {epochs}")
    if not re.search(r"(?i)loss\D{0,3}\d", text):
        problems.append("no loss value printed")
    return problems


def run_with_pty(args, cwd, env, on_pty=("stdout", "stderr")):
    """Run nncli with the named streams on one pseudo-terminal and the others
    captured through pipes; -> (exit code, pty bytes, {stream: piped bytes})."""
    master, slave = os.openpty()
    streams = {
        name: slave if name in on_pty else subprocess.PIPE
        for name in ("stdout", "stderr")
    }
    with subprocess.Popen(nncli_cmd(*args), cwd=cwd, env=env, **streams) as proc:
        os.close(slave)
        readers = {master: "tty"}
        readers.update(
            {
                p.fileno(): n
                for n, p in (("stdout", proc.stdout), ("stderr", proc.stderr))
                if p
            }
        )
        chunks = {name: b"" for name in readers.values()}
        while readers:
            ready, _, _ = select.select(list(readers), [], [], 60)
            assert ready, "nncli produced no output for 60 s"
            for fd in ready:
                try:
                    data = os.read(fd, 65536)
                except OSError:  # EIO: the pty's last writer has gone
                    data = b""
                if data:
                    chunks[readers[fd]] += data
                else:
                    del readers[fd]
        os.close(master)
        code = proc.wait(timeout=60)
    tty = chunks.pop("tty")
    piped = chunks
    return code, tty, piped


@pytest.fixture
def folder(tmp_path):
    return case(tmp_path, "CASE-027")


def _run_dir_only(stdout: bytes, runs) -> None:
    lines = stdout.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith(str(runs)), lines


def test_both_streams_redirected(folder, tmp_path):
    runs = tmp_path / "runs"
    out_txt, err_txt = tmp_path / "out.txt", tmp_path / "err.txt"
    with open(out_txt, "wb") as out, open(err_txt, "wb") as err:
        code = subprocess.run(
            nncli_cmd("train", "spec.yaml", "--runs-dir", runs),
            cwd=folder,
            env=child_env(),
            stdout=out,
            stderr=err,
            timeout=60,
            check=False,
        ).returncode
    stdout, stderr = out_txt.read_bytes(), err_txt.read_bytes()
    assert code == 0, stderr
    assert log_problems(stdout, stderr) == []
    assert stderr.decode().count("epoch ") >= EPOCHS  # a line per epoch, on stderr
    _run_dir_only(stdout, runs)  # small, parseable result file


def test_stderr_redirected_stdout_on_a_terminal(folder, tmp_path):
    runs = tmp_path / "runs"
    code, _, piped = run_with_pty(
        ["train", "spec.yaml", "--runs-dir", runs],
        folder,
        child_env(),
        on_pty=("stdout",),
    )
    assert code == 0, piped["stderr"]
    assert log_problems(b"", piped["stderr"]) == []


def test_stdout_redirected_stderr_on_a_terminal_without_colour(folder, tmp_path):
    runs = tmp_path / "runs"
    code, tty, piped = run_with_pty(
        ["train", "spec.yaml", "--runs-dir", runs],
        folder,
        child_env(NO_COLOR="1"),
        on_pty=("stderr",),
    )
    assert code == 0, tty
    _run_dir_only(piped["stdout"], runs)  # the piped stream stays clean
    assert b"\x1b[" in tty  # the terminal does get the live display ...
    for params in re.findall(rb"\x1b\[([0-9;]*)m", tty):  # ... but no colours
        codes = [int(p) for p in params.split(b";") if p]
        assert not [c for c in codes if 30 <= c <= 49 or 90 <= c <= 107], params


def test_ci_on_a_pseudo_terminal_gets_plain_lines(folder, tmp_path):
    runs = tmp_path / "runs"
    code, tty, _ = run_with_pty(
        ["train", "spec.yaml", "--runs-dir", runs], folder, child_env(CI="true")
    )
    assert code == 0, tty
    # a pty turns "\n" into "\r\n"; any other control character is a failure
    assert log_problems(b"", tty.replace(b"\r\n", b"\n")) == []
