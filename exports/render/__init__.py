"""Report file formats: a registry ``format -> renderer(data, lang) -> bytes`` (STYLE: pluggable kinds live in a
registry). Input is the report data dict of :mod:`exports.report_data`; output the file's bytes. No Flask here.

- ``pdf`` (:mod:`.pdf`): xhtml2pdf with the shipped DejaVu Sans, long breakdowns cut into short tables;
- ``xlsx`` (:mod:`.xlsx`): one sheet per breakdown, frozen headers, numbers as numbers;
- ``csv`` (:mod:`.csv_file`): the breakdown one level down plus a total row, UTF-8 with BOM.

Texts are in ``lang`` (``ro`` default, ``en``); charts for the web page are in :mod:`.charts`.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Any

FORMATS = ("pdf", "xlsx", "csv")
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
Renderer = Callable[[dict[str, Any], str], bytes]
_RENDERERS: dict[str, Renderer] = {}


def register(fmt: str, renderer: Renderer) -> None:
    """Add a format; a second renderer under the same name is a programming error."""
    if fmt in _RENDERERS:
        raise ValueError(f"report format {fmt!r} is already registered")
    _RENDERERS[fmt] = renderer


def render(fmt: str, data: dict[str, Any], lang: str = "ro") -> bytes:
    """The bytes of the report ``data`` in format ``fmt`` (``pdf``, ``xlsx``, ``csv``), texts in ``lang``."""
    try:
        renderer = _RENDERERS[fmt]
    except KeyError:
        raise ValueError(f"unknown report format {fmt!r}; known: {', '.join(FORMATS)}") from None
    return renderer(data, lang)


def _slug(text: str | None, limit: int = 40) -> str:
    ascii_text = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^A-Za-z0-9]+", "-", ascii_text).strip("-")[:limit].strip("-")


def filename(data: dict[str, Any], fmt: str) -> str:
    """A download name such as ``raport-CJ-v2.pdf`` (ASCII, no personal data): the node's code, else its name."""
    if fmt not in CONTENT_TYPES:
        raise ValueError(f"unknown report format {fmt!r}")
    node = data.get("node") or {}
    ident = "national" if node.get("level") == "ministry" else \
        _slug(node.get("code")) or _slug(node.get("name")) or _slug(str(node.get("id") or "")) or "nod"
    year = _slug((data.get("campaign") or {}).get("school_year"), 9)
    parts = ["raport", ident, year, f"v{int(data.get('version') or 1)}"]
    return "-".join(p for p in parts if p) + f".{fmt}"


def _register_builtin() -> None:
    from exports.render import csv_file, pdf, xlsx

    register("pdf", pdf.render)
    register("xlsx", xlsx.render)
    register("csv", csv_file.render)
    if set(_RENDERERS) != set(FORMATS) or set(CONTENT_TYPES) != set(FORMATS):
        raise RuntimeError("exports.render: FORMATS, CONTENT_TYPES and the registered renderers disagree")


_register_builtin()
