"""The README's generated parts match the code, and its commands match CI."""

from __future__ import annotations

from pathlib import Path

import pytest

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


def _section(readme: str, heading: str) -> str:
    start = readme.index(f"\n{heading}\n")
    end = readme.find("\n## ", start + 1)
    return readme[start:end]


def test_every_example_spec_is_in_the_readme_table_with_its_command():
    section = _section((ROOT / "README.md").read_text(), "## Example specs")
    rows = {
        line.split("`")[1] for line in section.splitlines() if line.startswith("| `")
    }
    specs = {f"specs/{p.name}" for p in (ROOT / "specs").glob("*.yaml")}
    assert rows == specs
    for spec in specs:
        assert f"\nnncli train {spec}\n" in section


def test_readme_image_folder_example_makes_a_usable_npz(tmp_path, monkeypatch):
    """The Pillow snippet under "Layers" turns images/<class>/*.png into an NPZ."""
    image = pytest.importorskip("PIL.Image")
    import numpy as np

    from nncli.train.run import prepare

    rng = np.random.default_rng(0)
    for i in range(10):
        folder = tmp_path / "images" / ("cat" if i % 2 else "dog")
        folder.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, size=(12, 9, 3), dtype=np.uint8)
        image.fromarray(pixels).save(folder / f"{i}.png")
    section = _section((ROOT / "README.md").read_text(), "## Layers")
    snippet = section.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    exec(snippet, {})
    (tmp_path / "spec.yaml").write_text(
        "data: {train: images.npz, validation_split: 0.2}\n"
        "model:\n  input_shape: [28, 28, 1]\n  layers:\n"
        "    - {type: conv2d, filters: 2, kernel_size: 3}\n"
        "    - {type: flatten}\n"
        "    - {type: dense, units: 2, activation: softmax}\n"
        "loss: sparse_categorical_crossentropy\n"
    )
    session = prepare(tmp_path / "spec.yaml")
    assert session.splits.train.x.shape == (8, 28, 28, 1)
    assert 0.0 <= session.splits.train.x.min() < session.splits.train.x.max() <= 1.0


# The optimizers whose Keras-vs-PyTorch difference the issue names (epsilon
# placement, epsilon hat, initial accumulator, learning rate): README name and
# what its bullet must state in `key: default` form (checked against the code).
CONVENTION_OPTIMIZERS = {
    "rmsprop": ("RMSprop", set()),
    "adam": ("Adam", set()),
    "adagrad": ("Adagrad", {"learning_rate", "initial_accumulator_value", "epsilon"}),
    "adadelta": ("Adadelta", {"learning_rate", "rho", "epsilon"}),
}


def test_readme_states_the_optimizer_conventions_that_differ_from_pytorch():
    import re

    from nncli.engine.optimizers import optimizers

    readme = (ROOT / "README.md").read_text()
    start = readme.index("## Numbers and conventions")
    section = readme[start : readme.index("\n#", start + 3)]
    bullets = section.split("\n- ")
    for name, (title, required) in CONVENTION_OPTIMIZERS.items():
        found = [b for b in bullets if f"**{title}**" in b]
        assert len(found) == 1, f"no conventions bullet for **{title}**"
        assert "PyTorch" in found[0], title
        text = found[0][found[0].index(f"**{title}**") :].split("\n- ")[0]
        stated = dict(re.findall(r"`(\w+): ([^`]+)`", text))
        assert required <= stated.keys(), (title, required - stated.keys())
        fields = optimizers.get(name).Config.model_fields
        for key, value in stated.items():
            assert float(value) == fields[key].default, (title, key, value)


def test_readme_exit_code_table_lists_every_code():
    """Each EXIT_* code in nncli/errors.py has a row in the README's table."""
    import re

    from nncli import errors

    readme = (ROOT / "README.md").read_text()
    start = readme.index("| code |", readme.index("### Exit codes"))
    table = readme[start : readme.index("\n\n", start)]
    listed = set()
    for row in table.splitlines()[2:]:  # after the header and |---|
        listed |= {int(c) for c in re.findall(r"\d+", row.split("|")[1])}
    defined = {v for k, v in vars(errors).items() if k.startswith("EXIT_")}
    assert defined and defined <= listed, sorted(defined - listed)
