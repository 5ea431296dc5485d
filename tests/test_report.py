"""Progress display: the rich bars on a terminal, plain lines elsewhere."""

from __future__ import annotations

import io
from pathlib import Path

from nncli.report import Reporter, RichReporter, make_reporter
from nncli.train.run import prepare, train

SPEC = Path(__file__).resolve().parent.parent / "specs" / "moons.yaml"


def test_rich_progress_renders_every_epoch(tmp_path):
    out = io.StringIO()
    session = prepare(SPEC, ["epochs=3"])
    train(session, tmp_path, RichReporter(out, force_terminal=True))
    text = out.getvalue()
    assert "\x1b[" in text  # it really drew on a "terminal"
    for epoch in (1, 2, 3):
        assert f"epoch {epoch}/3 - loss:" in text


def test_non_terminal_gets_plain_reporter():
    stream = io.StringIO()
    reporter = make_reporter(stream=stream)
    assert type(reporter) is Reporter
    assert type(make_reporter(quiet=True, stream=stream)) is Reporter


def test_quiet_keeps_warnings_only(tmp_path):
    out = io.StringIO()
    reporter = Reporter(out, quiet=True)
    reporter.info("hello")
    reporter.warn("careful")
    assert out.getvalue() == "warning: careful\n"
