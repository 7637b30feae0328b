"""Report file formats: a registry ``format -> renderer(data, lang) -> bytes`` (STYLE: pluggable kinds live in a
registry). Input is the report data dict of :mod:`exports.report_data`; output the file's bytes. No Flask here.
"""
from __future__ import annotations

from typing import Any

FORMATS = ("pdf", "xlsx", "csv")
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


def render(fmt: str, data: dict[str, Any], lang: str = "ro") -> bytes:
    """The bytes of the report ``data`` in format ``fmt`` (``pdf``, ``xlsx``, ``csv``), texts in ``lang``."""
    raise NotImplementedError("exports.render is being written (issue 6)")


def filename(data: dict[str, Any], fmt: str) -> str:
    """A download name such as ``raport-CJ-v2.pdf`` (ASCII, no personal data)."""
    raise NotImplementedError("exports.render is being written (issue 6)")
