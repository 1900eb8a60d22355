"""What an import reports, shared by the row-by-row path (``importing``) and the bulk path
(``bulk_import``): one ``FileReport`` per file, and ``ImportFailed`` when a row was refused."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FileReport:
    name: str
    new: int = 0
    updated: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)


class ImportFailed(Exception):
    def __init__(self, reports: list[FileReport]) -> None:
        self.reports = reports
        super().__init__("; ".join(e for r in reports for e in r.errors))
