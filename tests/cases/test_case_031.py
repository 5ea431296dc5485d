"""CASE-031: a new run must never overwrite an earlier run's output.

Sources: LibreYOLO/libreyolo#833 (runs/train silently replaced), mist-medical/
MIST PR #23, jakeret/tf_unet#216 (the trainer emptied the output path). Running
the same spec (fixed `name`) twice gives two folders, the console says which,
and every file of the first run is byte-identical afterwards; two runs started
at the same moment claim two distinct folders; each folder holds its resolved
spec. (nncli has no flag to reuse a folder; `--resume` is a later issue.)
"""

from __future__ import annotations

import hashlib
import subprocess

import pytest
import yaml
from casekit import case, child_env, nncli_cmd, train


@pytest.fixture
def folder(tmp_path):
    return case(tmp_path, "CASE-031")


def checksums(root) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_second_run_gets_a_new_folder(folder, tmp_path):
    runs = tmp_path / "runs"
    first = train(folder / "spec.yaml", runs)
    assert first.exit_code == 0, first.stderr
    before = checksums(runs)
    second = train(folder / "spec.yaml", runs)
    assert second.exit_code == 0, second.stderr
    dirs = sorted(p for p in runs.iterdir())
    assert len(dirs) == 2 and all(d.name.startswith("same-name-") for d in dirs)
    # the console says where each run went
    assert first.stdout.strip() != second.stdout.strip()
    assert f"run directory: {second.stdout.strip()}" in second.stderr
    after = checksums(runs)
    assert {k: after[k] for k in before} == before  # first run untouched
    for d in dirs:  # each records its spec as resolved
        spec = yaml.safe_load((d / "spec.yaml").read_text())
        assert spec["name"] == "same-name" and spec["epochs"] == 3


def test_concurrent_runs_claim_distinct_folders(folder, tmp_path):
    runs = tmp_path / "runs"
    cmd = nncli_cmd("train", "spec.yaml", "--runs-dir", runs, "--quiet")
    procs = [
        subprocess.Popen(
            cmd,
            cwd=folder,
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    printed = {out.decode().strip() for out, _ in outs}
    dirs = {str(p) for p in runs.iterdir()}
    assert len(dirs) == 2 and printed == dirs
    for d in runs.iterdir():
        assert (d / "weights.safetensors").is_file()
        assert len((d / "metrics.csv").read_text().splitlines()) == 1 + 3
