"""specs/digits_cnn.yaml: a valid spec on 8x8x1 images, and (slow) its README target."""

from __future__ import annotations

from pathlib import Path

import pytest

from nncli.report import Reporter
from nncli.train.run import prepare, train

SPEC = Path(__file__).resolve().parent.parent / "specs" / "digits_cnn.yaml"


def test_digits_cnn_spec_is_valid_and_sees_images():
    session = prepare(SPEC)
    assert session.splits.train.x.shape[1:] == (8, 8, 1)
    assert len(session.splits.train.x) + len(session.splits.validation.x) == 1797
    assert session.units == 10


@pytest.mark.slow
def test_digits_cnn_reaches_097_validation_accuracy(tmp_path):
    session = prepare(SPEC)
    _, summary = train(session, tmp_path, Reporter(quiet=True))
    assert summary["status"] == "completed"
    assert summary["final"]["val_accuracy"] >= 0.97
