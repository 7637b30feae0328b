"""Translated labels and number formats for the report files (no Flask: catalogs loaded with Babel directly).

The report data is language-neutral (codes and numbers); :class:`Labels` turns codes into text in one language
and formats numbers the way that language writes them (Romanian: ``12.345``, ``12,5%``). Msgids are English and
marked with :func:`N_` so ``scripts/i18n`` extracts them; a code without a label (a future ruleset's group) shows
as itself.
"""
from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path

from babel.numbers import format_decimal, format_percent
from babel.support import NullTranslations, Translations

TRANSLATIONS = Path(__file__).resolve().parents[2] / "app" / "translations"
LANGUAGES = ("ro", "en")
_LOCALES = {"ro": "ro_RO", "en": "en_GB"}


def N_(message: str) -> str:
    """Mark a message for translation; :class:`Labels` translates it when a document is rendered."""
    return message


GROUPS = {
    "ethnicity.roma": N_("Roma"),
    "ethnicity.hungarian": N_("Hungarian"),
    "ethnicity.german": N_("German"),
    "ethnicity.ukrainian": N_("Ukrainian"),
    "ethnicity.turkish_tatar": N_("Turkish / Tatar"),
    "parents_education.below_eight": N_("Neither parent with 8 grades"),
    "parents_education.eight_or_below": N_("Parents with at most 8 grades"),
    "social_scholarship": N_("Social-scholarship file"),
    "single_parent": N_("Single-parent family"),
    "disability_sen": N_("Disability or SEN"),
    "residence_other_locality": N_("Living in another locality"),
    "institutionalised": N_("In institutions or foster care"),
    "relatives_care": N_("In the care of relatives"),
    "attended_kindergarten.not_attended": N_("Did not attend kindergarten"),
    "repeating": N_("Repeating the year"),
}
CRITERIA = {
    "ethnicity": N_("Ethnicity"),
    "parents_education": N_("Parents' education"),
    "social_scholarship": N_("Social scholarship"),
    "single_parent": N_("Single-parent families"),
    "disability_sen": N_("Disabilities and SEN"),
    "residence_other_locality": N_("Commuting pupils"),
    "institutionalised": N_("Institutional or foster care"),
    "relatives_care": N_("Care by relatives"),
    "attended_kindergarten": N_("Kindergarten attendance"),
    "repeating": N_("Repeating the year"),
}
ANALYSIS_LEVELS = {
    "building": N_("Building"),
    "class": N_("Class"),
    "bench": N_("Last two benches"),
    "locality": N_("Unit against the locality"),
}
OUTCOMES = {
    "risk": N_("Risk"),
    "missing_data": N_("Missing data"),
    "insufficient": N_("Too few pupils to measure"),
    "ok": N_("No risk"),
    "exempt": N_("Exempt (minority language)"),
}
CODES = {
    "predominant": N_("predominantly made up of the group"),
    "score_threshold": N_("alert score at or above the threshold"),
    "missing_data": N_("a count is missing"),
    "small_numbers": N_("small numbers"),
    "no_pupils": N_("no pupils"),
    "few_pupils": N_("fewer pupils than the minimum"),
    "few_in_group": N_("the group is (nearly) absent from the reference"),
    "minority_language": N_("taught in the group's mother tongue"),
}
NODE_LEVELS = {
    "class": N_("Class"),
    "unit": N_("Unit"),
    "school": N_("School"),
    "inspectorate": N_("Inspectorate"),
    "ministry": N_("Ministry"),
}
CHILD_LEVELS = {
    "class": N_("Classes"),
    "unit": N_("Units"),
    "school": N_("Schools"),
    "inspectorate": N_("Inspectorates"),
}
STATES = {"not_started": N_("not started"), "in_progress": N_("in progress"), "submitted": N_("submitted")}
REASONS = {
    "submitted": N_("generated at submission"),
    "on_demand": N_("generated on demand"),
    "reissued": N_("re-issued after a change below"),
    "extended": N_("updated after the extended monitoring"),
}


@lru_cache(maxsize=8)
def translations(lang: str) -> NullTranslations:
    """The compiled catalog of ``lang`` (msgids themselves when there is none)."""
    return Translations.load(str(TRANSLATIONS), [lang], domain="messages")


class Labels:
    """Texts and number formats of one language; ``labels("Pupils")`` translates a msgid."""

    def __init__(self, lang: str = "ro"):
        self.lang = lang if lang in LANGUAGES else "ro"
        self.locale = _LOCALES[self.lang]
        self.translations = translations(self.lang)

    def __call__(self, msgid: str, **params) -> str:
        text = self.translations.gettext(msgid)
        return text % params if params else text

    def gettext(self, msgid: str, **params) -> str:
        return self(msgid, **params)

    def _table(self, table: dict[str, str], code) -> str:
        return self(table[code]) if code in table else ("" if code is None else str(code))

    def group(self, group_id: str) -> str:
        return self._table(GROUPS, group_id)

    def criterion(self, key: str) -> str:
        return self._table(CRITERIA, key)

    def analysis_level(self, level: str) -> str:
        return self._table(ANALYSIS_LEVELS, level)

    def outcome(self, outcome: str) -> str:
        return self._table(OUTCOMES, outcome)

    def codes(self, codes) -> str:
        return "; ".join(self._table(CODES, c) for c in codes or ())

    def risk_code(self, code: str) -> str:
        """``ethnicity.class`` (criterion.level where a unit was at risk) as ``Ethnicity — Class``."""
        criterion, _, level = str(code).rpartition(".")
        if not criterion:
            return str(code)
        return f"{self.criterion(criterion)} — {self.analysis_level(level)}"

    def node_level(self, level: str) -> str:
        return self._table(NODE_LEVELS, level)

    def child_level(self, level: str) -> str:
        return self._table(CHILD_LEVELS, level)

    def state(self, state: str) -> str:
        return self._table(STATES, state)

    def reason(self, reason: str) -> str:
        return self._table(REASONS, reason)

    def yes_no(self, value: bool) -> str:
        return self(N_("Yes")) if value else self(N_("No"))

    # -- numbers ------------------------------------------------------------------------------------------
    def number(self, value) -> str:
        """An integer or decimal as the language writes it; an em dash when unknown."""
        if value is None:
            return "—"
        if isinstance(value, float) and not value.is_integer():
            return format_decimal(value, format="#,##0.0", locale=self.locale)
        return format_decimal(int(value), locale=self.locale)

    def share(self, value) -> str:
        return "—" if value is None else format_percent(value, format="#,##0.0%", locale=self.locale)

    def points(self, value) -> str:
        """A gap in percentage points with its sign."""
        if value is None:
            return "—"
        return format_decimal(value, format="+#,##0.0;-#,##0.0", locale=self.locale) + " pp"

    def score(self, value) -> str:
        return "—" if value is None else format_decimal(value, format="#,##0.0", locale=self.locale)

    def timestamp(self, iso: str | None) -> str:
        """``2026-11-21T08:00:00+00:00`` as ``21.11.2026 08:00 UTC``; the text itself when it does not parse."""
        if not iso:
            return ""
        try:
            when = dt.datetime.fromisoformat(iso)
        except ValueError:
            return iso
        if when.tzinfo is not None:
            when = when.astimezone(dt.UTC)
        return when.strftime("%d.%m.%Y %H:%M UTC" if self.lang == "ro" else "%Y-%m-%d %H:%M UTC")
