"""What ``doctor`` reports: one line per check, PASS / WARN / FAIL, with the fix."""

from __future__ import annotations

import enum
from dataclasses import dataclass

CHECK_SECONDS = 10.0
"""How long one service's checks may take before the operator is told it did not answer."""


class Status(enum.StrEnum):
    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True, slots=True)
class Check:
    status: Status
    name: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        return f"{self.status}  {self.name}: {self.detail}" + (
            f" (fix: {self.fix})" if self.fix else ""
        )
