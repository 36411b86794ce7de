"""Checks the Greenflash stand-in applies to request bodies, shared by its write side
(``greenflash_server.py``) and its read side (``greenflash_reads.py``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any


class Invalid(Exception):
    """A request the API refuses: ``status`` and the problems its error body lists."""

    def __init__(self, status: int, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.status = status
        self.problems = problems


Check = Callable[[Any], bool]


def is_string(value: Any) -> bool:
    return isinstance(value, str)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_object(value: Any) -> bool:
    return isinstance(value, dict)


def is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def is_datetime(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def one_of(*choices: str) -> Check:
    return lambda value: value in choices


def between(low: float, high: float) -> Check:
    return lambda value: is_number(value) and low <= value <= high


WHAT: dict[Check, str] = {
    is_string: "a string", is_number: "a number", is_object: "an object",
    is_bool: "a boolean", is_datetime: "an ISO-8601 date-time string",
}


def check(
    obj: dict[str, Any],
    problems: list[str],
    *,
    required: dict[str, Check] | None = None,
    optional: dict[str, Check] | None = None,
    where: str = "",
) -> None:
    """Append a problem for each missing required field and each field of the wrong kind."""
    for name, ok in (required or {}).items():
        value = obj.get(name)
        if value is None:
            problems.append(f"{where}{name}: Required")
        elif ok is is_string and value == "":
            problems.append(f"{where}{name}: must not be empty")
        elif not ok(value):
            problems.append(f"{where}{name}: expected {WHAT.get(ok, 'a valid value')}, "
                            f"got {value!r}")
    for name, ok in (optional or {}).items():
        if name in obj and obj[name] is not None and not ok(obj[name]):
            problems.append(f"{where}{name}: expected {WHAT.get(ok, 'a valid value')}, "
                            f"got {obj[name]!r}")


def now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
