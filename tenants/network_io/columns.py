"""Columns of the network and structure files: canonical names, accepted header aliases and cell normalisers.

A normaliser turns one raw cell (text from a CSV, or a typed value from an .xlsx) into the stored value or raises
:class:`CellError` with a plain message. Rows are checked completely: every bad cell of every row is reported.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from exports.spreadsheets import N_, Table
from tenants.models import search_key

MAX_PUPILS = 200  # more in one class is a typo, not a class


class CellError(ValueError):
    def __init__(self, message: str, **params):
        super().__init__(message)
        self.message, self.params = message, params


def error(row: int | None, column: str | None, message: str, **params) -> dict:
    """One entry of ``ImportBatch.errors``; ``message`` is an untranslated msgid, ``params`` fill it."""
    return {"row": row, "column": column, "message": message, "params": params}


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _shown(value) -> str:
    t = _text(value)
    return t if len(t) <= 40 else t[:39] + "…"


def siiir_code(value) -> str:
    # Excel stores codes typed into a number cell as numbers and drops the leading zero of counties 01-09.
    if isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer():
        text = str(int(value))
        if len(text) == 9:
            text = "0" + text
    else:
        text = _text(value).replace(" ", "")
    if not text:
        raise CellError(N_("the SIIIR code is missing"))
    if not re.fullmatch(r"\d{10}", text):
        raise CellError(N_("“%(value)s” is not a SIIIR code: it must have exactly 10 digits (if Excel removed a "
                           "leading zero, format the column as text)"), value=_shown(value))
    return text


def optional_siiir_code(value) -> str | None:
    return siiir_code(value) if _text(value) else None


def county_code(value) -> str:
    text = _text(value).upper()
    if not text:
        raise CellError(N_("the county code is missing"))
    if not re.fullmatch(r"[A-Z]{1,4}", text):
        raise CellError(N_("“%(value)s” is not a county code (for example CJ, IS or B)"), value=_shown(value))
    return text


def _name(max_len: int):
    def parse(value) -> str:
        text = _text(value)
        if not text:
            raise CellError(N_("the name is missing"))
        if len(text) > max_len:
            raise CellError(N_("the name is longer than %(max)s characters"), max=max_len)
        return text
    return parse


def optional_name(value) -> str | None:
    text = _text(value)
    if len(text) > 255:
        raise CellError(N_("the name is longer than %(max)s characters"), max=255)
    return text or None


def locality(value) -> str | None:
    text = _text(value)
    if len(text) > 120:
        raise CellError(N_("the locality is longer than %(max)s characters"), max=120)
    return text or None


_ENVIRONMENTS = {"urban": "urban", "u": "urban", "rural": "rural", "r": "rural"}


def environment(value) -> str | None:
    text = search_key(_text(value))
    if not text:
        return None
    if text not in _ENVIRONMENTS:
        raise CellError(N_("“%(value)s” is not an environment: write urban or rural"), value=_shown(value))
    return _ENVIRONMENTS[text]


def _language_code(text: str, value) -> str:
    if not re.fullmatch(r"[a-z]{2,3}", text):
        raise CellError(N_("“%(value)s” is not a language code (for example ro, hu, de)"), value=_shown(value))
    return text


def languages(value) -> str:
    """Comma-separated language codes, in the file's order without repeats; empty means Romanian ("ro")."""
    parts = [p for p in re.split(r"[\s,;/]+", _text(value).lower()) if p]
    if not parts:
        return "ro"
    codes = list(dict.fromkeys(_language_code(p, value) for p in parts))
    joined = ",".join(codes)
    if len(joined) > 80:
        raise CellError(N_("too many languages"))
    return joined


def language(value) -> str:
    text = _text(value).lower()
    return _language_code(text, value) if text else "ro"


_ROMAN = {r: i for i, r in enumerate(("P", "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI",
                                      "XII"))}
ROMAN = {i: r for r, i in _ROMAN.items()}


def grade_level(value) -> int:
    """P / 0 / pregătitoare → 0; I…XII or 1…12 → 1…12."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if float(value).is_integer() and 0 <= value <= 12:
            return int(value)
        raise CellError(N_("“%(value)s” is not a grade: use P (preparatory) or I to XII"), value=_shown(value))
    text = search_key(_text(value)).upper().replace(" ", "")
    if not text:
        raise CellError(N_("the grade is missing"))
    if text.startswith("PREG"):
        return 0
    if text.isdigit() and 0 <= int(text) <= 12:
        return int(text)
    if text in _ROMAN:
        return _ROMAN[text]
    raise CellError(N_("“%(value)s” is not a grade: use P (preparatory) or I to XII"), value=_shown(value))


_FORMS = {"day": "day", "zi": "day", "cu frecventa": "day", "frecventa": "day",
          "evening": "evening", "seral": "evening", "serala": "evening",
          "part_time": "part_time", "part time": "part_time", "frecventa redusa": "part_time", "fr": "part_time",
          "distance": "distance", "distanta": "distance", "la distanta": "distance", "id": "distance"}


def education_form(value) -> str:
    text = search_key(_text(value)).replace("-", " ")
    if not text:
        return "day"
    if text not in _FORMS:
        raise CellError(N_("“%(value)s” is not a form of education: write day, evening, part_time or distance"),
                        value=_shown(value))
    return _FORMS[text]


def pupils(value) -> int:
    if isinstance(value, bool):
        raise CellError(N_("the number of pupils must be a whole number"))
    if isinstance(value, int | float):
        number = value
    else:
        text = _text(value).replace(" ", "")
        if not text:
            raise CellError(N_("the number of pupils is missing"))
        if not re.fullmatch(r"-?\d+([.,]0+)?", text):
            raise CellError(N_("“%(value)s” is not a number of pupils: write a whole number such as 24"),
                            value=_shown(value))
        number = int(re.split(r"[.,]", text)[0])
    if not float(number).is_integer():
        raise CellError(N_("the number of pupils must be a whole number"))
    if number < 0:
        raise CellError(N_("the number of pupils cannot be negative"))
    if number > MAX_PUPILS:
        raise CellError(N_("%(value)s pupils in one class is more than the %(max)s allowed"), value=int(number),
                        max=MAX_PUPILS)
    return int(number)


_YES = {"yes", "y", "da", "d", "1", "true", "adevarat", "x"}
_NO = {"no", "n", "nu", "0", "false", "fals", ""}


def yes_no(value) -> bool:
    text = search_key(_text(value))
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise CellError(N_("“%(value)s” is not yes or no (da/nu)"), value=_shown(value))


@dataclass(frozen=True)
class Column:
    name: str
    parse: object  # callable(raw) -> value
    aliases: tuple[str, ...] = ()
    required: bool = True  # must appear in the header
    informative: bool = False  # written on export for people; read but ignored on import


NETWORK_COLUMNS = (
    Column("county_code", county_code, ("cod_judet", "judet", "county", "cod_isj", "isj")),
    Column("school_code", siiir_code, ("cod_siiir_pj", "cod_pj", "cod_scoala", "siiir_pj", "cod_unitate_pj")),
    Column("school_name", _name(255), ("denumire_pj", "nume_pj", "denumire_scoala", "nume_scoala", "scoala")),
    Column("unit_code", optional_siiir_code, ("cod_siiir", "cod_siiir_unitate", "cod_unitate", "cod_structura")),
    Column("unit_name", optional_name, ("denumire_unitate", "nume_unitate", "denumire_structura", "unitate")),
    Column("locality", locality, ("localitate", "localitatea")),
    Column("environment", environment, ("mediu", "mediul", "mediu_de_rezidenta")),
    Column("languages", languages, ("limbi", "limbi_predare", "limbi_de_predare", "limba_predare")),
    Column("school_locality", locality, ("localitate_pj",), required=False),
    Column("school_environment", environment, ("mediu_pj",), required=False),
    Column("school_languages", languages, ("limbi_pj", "limbi_predare_pj"), required=False),
)

STRUCTURE_COLUMNS = (
    Column("unit_code", siiir_code, ("cod_siiir", "cod_siiir_unitate", "cod_unitate", "cod_structura")),
    Column("unit_name", optional_name, ("denumire_unitate", "nume_unitate", "unitate"), required=False,
           informative=True),
    Column("class_name", _name(40), ("clasa", "nume_clasa", "denumire_clasa", "formatiune", "class")),
    Column("grade_level", grade_level, ("nivel", "an_de_studiu", "an_studiu", "grade", "nivel_clasa")),
    Column("teaching_language", language, ("limba_predare", "limba_de_predare", "limba")),
    Column("education_form", education_form, ("forma_invatamant", "forma_de_invatamant", "forma")),
    Column("pupils", pupils, ("elevi", "nr_elevi", "numar_elevi", "efectiv", "nr_elevi_inscrisi")),
    Column("combined", yes_no, ("simultan", "simultana", "clasa_simultana", "clasa_simultan")),
)

COLUMNS = {"network": NETWORK_COLUMNS, "structure": STRUCTURE_COLUMNS}


def header_key(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", search_key(text)).strip("_")


def map_headers(headers: list[str], columns) -> tuple[dict[str, int], list[dict], list[str]]:
    """Canonical column → position. Returns (positions, errors, ignored headers)."""
    by_key = {}
    for col in columns:
        for key in (col.name, *col.aliases):
            by_key[header_key(key)] = col
    positions: dict[str, int] = {}
    errors: list[dict] = []
    ignored: list[str] = []
    for i, header in enumerate(headers):
        col = by_key.get(header_key(header))
        if col is None:
            if header:
                ignored.append(header)
            continue
        if col.name in positions:
            errors.append(error(None, header, N_("columns “%(first)s” and “%(second)s” both mean %(field)s; "
                                                 "keep only one"), first=headers[positions[col.name]],
                                second=header, field=col.name))
            continue
        positions[col.name] = i
    missing = [c.name for c in columns if c.required and c.name not in positions]
    if missing:
        errors.append(error(None, None, N_("missing columns: %(missing)s. The first row must name the columns: "
                                           "%(expected)s"), missing=", ".join(missing),
                            expected=", ".join(c.name for c in columns if not c.informative)))
    return positions, errors, ignored


def normalise(table: Table, columns) -> tuple[list[dict], list[dict], dict[str, str], list[dict]]:
    """Parse every cell of every row. Returns (rows, errors, {column: header as written in the file}, notices)."""
    positions, errors, ignored = map_headers(table.headers, columns)
    notices = list(table.notices)
    if ignored:
        notices.append({"message": N_("These columns are not used and were ignored: %(columns)s."),
                        "params": {"columns": ", ".join(ignored[:20])}})
    header_of = {name: table.headers[i] for name, i in positions.items()}
    if errors:
        return [], errors, header_of, notices
    if not table.rows:
        return [], [error(None, None, N_("The file has a header row but no data rows."))], header_of, notices
    wanted = [c for c in columns if c.name in positions and not c.informative]
    rows = []
    for number, values in table.rows:
        row = {"row": number, "ok": True}
        for col in wanted:
            i = positions[col.name]
            raw = values[i] if i < len(values) else None
            try:
                row[col.name] = col.parse(raw)
            except CellError as e:
                errors.append(error(number, header_of[col.name], e.message, **e.params))
                row[col.name], row["ok"] = None, False
        rows.append(row)
    return rows, errors, header_of, notices
