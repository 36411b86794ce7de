"""The documentation and the models name the same variables: a renamed or added setting
that the docs miss, or a documented one nothing reads, fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import configured_variables

ROOT = Path(__file__).resolve().parents[2]
VARIABLE_TABLE = "| Variable | Default | Meaning |"
NAME = re.compile(r"`([A-Z][A-Z0-9_]*)`")
ASSIGNMENT = re.compile(r"^#? ?([A-Z][A-Z0-9_]*)=", re.MULTILINE)


def table_variables(path: Path) -> set[str]:
    """The names in the first column of every "Variable | Default | Meaning" table."""
    names: set[str] = set()
    in_table = False
    for line in path.read_text().splitlines():
        if line.strip() == VARIABLE_TABLE:
            in_table = True
        elif in_table and line.startswith("|"):
            names |= set(NAME.findall(line.split("|")[1]))
        else:
            in_table = False
    return names


def example_variables() -> set[str]:
    return set(ASSIGNMENT.findall((ROOT / ".env.example").read_text()))


@pytest.mark.parametrize("source", ["README.md", "docs/configuration.md", ".env.example"])
def test_every_documented_variable_is_read(source: str) -> None:
    path = ROOT / source
    documented = example_variables() if source == ".env.example" else table_variables(path)
    assert documented, f"no variables found in {source}: did its tables change shape?"
    assert documented - configured_variables() == set()


def test_every_variable_read_is_in_the_reference_and_the_example() -> None:
    known = configured_variables()
    assert known - table_variables(ROOT / "docs/configuration.md") == set()
    assert known - example_variables() == set()


def test_the_readers_know_a_name_from_a_table_row() -> None:
    """The parsing above finds every name of a row, and nothing of a code span that is not
    a variable."""
    row = "| `CONTEXT_MAX_MESSAGES`, `CONTEXT_MAX_CHARS` | 20 | see `bot/config` and `x_y` |"
    assert NAME.findall(row.split("|")[1]) == ["CONTEXT_MAX_MESSAGES", "CONTEXT_MAX_CHARS"]
    assert ASSIGNMENT.findall("A_B=1\n# C_D=2\n# see E_F=3 here\n") == ["A_B", "C_D"]
