"""The one finding record used everywhere: readers, rules, output, suppression, tests."""

from __future__ import annotations

from typing import Literal

from tuner.records import dataclass

Severity = Literal["error", "warning", "info"]
Category = Literal["performance", "reliability", "security", "correctness", "deprecation"]

SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "error": 2}


@dataclass(frozen=True, order=True)
class Edit:
    """Replace the text from (line, column) to (end_line, end_column): 1-based, end exclusive."""

    line: int
    column: int
    end_line: int
    end_column: int
    replacement: str


@dataclass(frozen=True)
class Finding:
    """One problem at one place.  ``line`` and ``column`` are 1-based."""

    code: str
    path: str
    line: int
    column: int
    message: str
    name: str = ""
    severity: Severity = "warning"
    category: Category = "correctness"
    end_line: int = 0
    end_column: int = 0
    setting: str | None = None
    value: str | None = None
    fix: str = ""
    url: str = ""
    edit: Edit | None = None
    # A finding fixed as a whole (every old name of a module): the edits after ``edit``.
    extra_edits: tuple[Edit, ...] = ()

    @property
    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.line, self.column, self.code)

    def as_json(self) -> dict[str, object]:
        """The documented JSON contract (version 1): exactly these keys."""
        return {
            "code": self.code,
            "name": self.name,
            "severity": self.severity,
            "category": self.category,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line or self.line,
            "end_column": self.end_column or self.column,
            "setting": self.setting,
            "value": self.value,
            "message": self.message,
            "fix": self.fix,
            "url": self.url,
        }
