"""Click's usage errors: one error line and the help hint, JSON with --json,
exit 2, and a --set hint for an option that names a spec key."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from nncli.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["train", "s.yaml", "--epochs", "3"], "No such option: --epochs"),
        (["eval"], "Missing argument"),
        (["eval", "r", "--fail-under"], "'--fail-under' requires an argument"),
        (["train"], "give a spec file, or --resume RUN"),
        (["bogus"], "No such command 'bogus'"),
        (["--bogus"], "No such option: --bogus"),
    ],
)
def test_usage_error_is_one_line_and_a_hint(args, fragment):
    result = invoke(*args)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith("error: ") and fragment in lines[0]
    assert lines[1].startswith("Try '") and lines[1].endswith(" --help' for help.")
    assert result.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ["train", "s.yaml", "--epochs", "3", "--json"],
        ["eval", "--json"],
        ["train", "--json", "s.yaml", "--runs-dir"],
        ["bogus", "--json"],
        ["validate", "--json", "s.yaml", "--set"],
    ],
)
def test_usage_error_with_json_prints_the_json_error(args):
    result = invoke(*args)
    assert result.exit_code == 2
    out = json.loads(result.stdout)
    assert out["ok"] is False and out["exit_code"] == 2
    assert out["errors"] == [result.stderr.splitlines()[0].removeprefix("error: ")]


def test_json_after_double_dash_is_not_an_option():
    result = invoke("eval", "--bogus", "--", "--json")
    assert result.exit_code == 2 and result.stdout == ""


@pytest.mark.parametrize(
    "args, hint",
    [
        (["train", "s.yaml", "--epochs", "3"], "did you mean --set epochs=3?"),
        (["train", "s.yaml", "--batch-size=8"], "did you mean --set batch_size=8?"),
        (
            ["validate", "s.yaml", "--learning-rate", "0.1"],
            "did you mean --set optimizer.learning_rate=0.1?",
        ),
        (["summary", "s.yaml", "--seed"], "did you mean --set seed=VALUE?"),
        (
            ["train", "s.yaml", "--validation-split", "0.2"],
            "did you mean --set data.validation_split=0.2?",
        ),
        # Keras 1/2 names of a key: the current key's path
        (
            ["train", "s.yaml", "--lr", "0.1"],
            "did you mean --set optimizer.learning_rate=0.1?",
        ),
        (["train", "s.yaml", "--nb-epoch", "9"], "did you mean --set epochs=9?"),
    ],
)
def test_unknown_option_that_is_a_spec_key_suggests_set(args, hint):
    result = invoke(*args)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0].endswith(hint)


def test_no_set_hint_where_there_is_no_set_or_no_such_key():
    eval_ = invoke("eval", "r", "--epochs", "3")
    assert eval_.exit_code == 2 and "--set" not in eval_.stderr
    train = invoke("train", "s.yaml", "--data", "x.csv")  # a section, not a value
    assert train.exit_code == 2 and "--set" not in train.stderr
    # Keras 2's decay is a schedule now, not a renamed learning_rate
    decay = invoke("train", "s.yaml", "--decay", "0.01")
    assert decay.exit_code == 2 and "--set" not in decay.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["train", "s.yaml", "--runs-dir", "--json"],
        ["train", "--resume", "--json"],
        ["validate", "s.yaml", "--set", "--json"],
        ["eval", "r", "--fail-under", "--json"],
    ],
)
def test_an_option_is_not_taken_as_another_options_value(args, tmp_path, monkeypatch):
    # `--runs-dir $EMPTY --json`: Click would make a folder named --json and
    # print no JSON
    monkeypatch.chdir(tmp_path)
    result = invoke(*args)
    assert result.exit_code == 2
    line = result.stderr.splitlines()[0]
    assert f"Option '{args[-2]}' requires an argument, got the option '--json'" in line
    assert json.loads(result.stdout)["errors"] == [line.removeprefix("error: ")]
    assert list(tmp_path.iterdir()) == []


def test_double_dash_is_not_taken_as_an_options_value(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("train", "s.yaml", "--runs-dir", "--", "--json")
    assert result.exit_code == 2 and "got the option '--'" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_set_hint_keeps_a_negative_number():
    result = invoke("train", "s.yaml", "--epochs", "-3")
    assert result.stderr.splitlines()[0].endswith("did you mean --set epochs=-3?")
