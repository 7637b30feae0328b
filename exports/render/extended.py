"""A unit's extended-monitoring answers (``data["extended"]`` of :func:`exports.report_data.build`) as
(question, answer) rows, worded by the shipped form definition and nomenclatures, which carry ro and en labels.

Values are keyed as the form stores them: ``commission.established``, ``measures`` (codes),
``flagged_classes.c<class id>.formation_reason`` … ; a flagged class is named from the report's breakdown.
"""
from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from exports.render.labels import N_, Labels
from forms.definitions import BUILTIN_DIR

FORM = "segregation.extended.v1.json"
STATES = {"none": N_("not requested"), "requested": N_("requested"), "submitted": N_("submitted")}


@lru_cache(maxsize=1)
def _form() -> dict[str, Any]:
    return json.loads((BUILTIN_DIR / FORM).read_text(encoding="utf-8"))


@lru_cache(maxsize=8)
def _options(nomenclature: str) -> dict[str, dict[str, str]]:
    path = BUILTIN_DIR / "nomenclatures" / f"{nomenclature}.json"
    if not path.is_file():
        return {}
    return {i["code"]: i.get("label") or {} for i in json.loads(path.read_text(encoding="utf-8")).get("items", [])}


def _text(label: dict[str, str] | str | None, lang: str) -> str:
    if isinstance(label, dict):
        return label.get(lang) or label.get("ro") or label.get("en") or ""
    return str(label or "")


def _answer(field: dict[str, Any], value: Any, L: Labels) -> str:
    if value is None or value == "" or value == []:
        return "—"
    kind = field.get("type")
    if kind == "yesno":
        return L.yes_no(bool(value))
    if kind in ("single_choice", "multiple_choice"):
        options = _options(field.get("nomenclature") or "")
        codes = value if isinstance(value, list) else [value]
        return "; ".join(_text(options.get(str(c)), L.lang) or str(c) for c in codes)
    if kind == "date":
        try:
            y, m, d = str(value)[:10].split("-")
            return f"{d}.{m}.{y}" if L.lang == "ro" else f"{y}-{m}-{d}"
        except ValueError:
            return str(value)
    return str(value)


def has_extended(data: dict[str, Any]) -> bool:
    ext = data.get("extended") or {}
    return (data.get("node") or {}).get("level") == "unit" and (ext.get("state") not in (None, "none")
                                                                 or bool(ext.get("values")))


def rows(data: dict[str, Any], L: Labels) -> list[tuple[str, str]]:
    """(question, answer) rows: the section's state, every unit-level question, then each flagged class."""
    ext = data.get("extended") or {}
    values = ext.get("values") or {}
    out = [(L(N_("Extended monitoring")), L(STATES.get(ext.get("state"), N_("not requested"))))]
    classes = {f"c{c.get('id')}": c.get("name") for c in data.get("children") or ()}
    for section in _form().get("sections", []):
        if not section.get("repeat"):
            for f in section.get("fields", []):
                if f["key"] in values:
                    out.append((_text(f.get("label"), L.lang), _answer(f, values[f["key"]], L)))
            continue
        prefix = section["key"] + "."
        items = sorted({k[len(prefix):].split(".", 1)[0] for k in values if k.startswith(prefix)})
        for item in items:
            name = classes.get(item) or item
            for f in section.get("fields", []):
                key = f"{prefix}{item}.{f['key']}"
                if key in values:
                    out.append((f"{name} — {_text(f.get('label'), L.lang)}", _answer(f, values[key], L)))
    return out
