"""Real tables that ship with nncli (see README.md here for sources and licences).

The CSV files live in `data/` and are read with `importlib.resources`, so they
work from a source checkout and from an installed wheel alike.
"""

from __future__ import annotations

import csv
import io
from importlib import resources

TABLES = ("iris", "breast_cancer", "digits", "elnino")


def read_table(name: str) -> tuple[list[str], list[list[str]]]:
    """(header, rows of text cells) of the shipped table `data/<name>.csv`."""
    if name not in TABLES:
        raise KeyError(f"no shipped table {name!r} (known: {', '.join(TABLES)})")
    path = resources.files(__name__).joinpath("data").joinpath(f"{name}.csv")
    text = path.read_text("utf-8")
    header, *rows = csv.reader(io.StringIO(text, newline=""))
    return header, [r for r in rows if r]
