"""The README's generated parts match the code, and its commands match CI."""

from __future__ import annotations

from pathlib import Path

from nncli.spec.reference import END, START, reference_markdown

ROOT = Path(__file__).resolve().parent.parent


def test_readme_spec_reference_is_current():
    readme = (ROOT / "README.md").read_text()
    start, end = readme.index(START), readme.index(END) + len(END)
    assert readme[start:end] == reference_markdown(), (
        "README spec reference is stale: run python -m nncli.spec.reference"
    )


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    command = "pip install -e '.[test]' && python -m pytest -q"
    assert command in readme and command in ci


def test_every_example_spec_is_valid():
    from nncli.train.run import prepare

    specs = sorted((ROOT / "specs").glob("*.yaml"))
    assert len(specs) >= 4
    for spec in specs:
        session = prepare(spec)
        assert len(session.splits.train.x) > 0


def test_shipped_schema_is_current():
    import json

    from nncli.spec.schema import run_spec_model

    shipped = json.loads((ROOT / "specs" / "nncli.schema.json").read_text())
    generated = run_spec_model().model_json_schema()
    shipped.pop("$schema"), shipped.pop("title")
    generated.pop("title", None)
    assert shipped == generated, "run: nncli schema > specs/nncli.schema.json"
