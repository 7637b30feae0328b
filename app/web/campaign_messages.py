"""The collection workflow's refusals in the page's language.

:mod:`workflows` raises Conflict / Forbidden / Invalid with ``details={"code": …, "params": {…}}`` and an English
message (which the API returns as is); the pages look the code up here instead: a msgid with ``%(…)s``
placeholders (or a function of the params, for plurals), and translated level, status, action and section codes.
An unknown code falls back to the English message.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

from flask_babel import gettext, lazy_gettext as _l, ngettext

from core.errors import DomainError
from workflows.errors import Refusal

LEVEL_THE = {"inspectorate": _l("the inspectorate"), "school": _l("the school"), "unit": _l("the school unit"),
             "class": _l("the class")}
LEVEL_NOUN = {"inspectorate": _l("inspectorate"), "school": _l("school"), "unit": _l("school unit"),
              "class": _l("class")}
STATUS = {"draft": _l("draft"), "running": _l("running"), "closed": _l("closed"), "archived": _l("archived")}
SECTION = {"unit": _l("the unit form"), "class": _l("the class table"), "extended": _l("the extended section")}


def _children_pending(p: Mapping) -> str:
    n, child = p.get("count", 0), p.get("child_level")
    if child == "school":
        return ngettext("%(num)s school not submitted", "%(num)s schools not submitted", n)
    if child == "unit":
        return ngettext("%(num)s school unit not submitted", "%(num)s school units not submitted", n)
    if child == "class":
        return ngettext("%(num)s class not submitted", "%(num)s classes not submitted", n)
    raise KeyError(child)


def _section_problems(p: Mapping) -> str:
    return ngettext("%(section)s has %(num)s problem", "%(section)s has %(num)s problems", p.get("count", 0),
                    section=p["section"])


def _values_problems(p: Mapping) -> str:
    return ngettext("%(num)s problem in the values", "%(num)s problems in the values", p.get("count", 0))


# code → msgid (formatted with the translated params) or a function of the translated params.
TEXTS: dict[str, object | Callable[[Mapping], str]] = {
    # workflows.state
    "unknown_action": _l("unknown action “%(action)s”"),
    "role_may_not": _l("your role does not allow “%(action)s” for a %(level_noun)s"),
    "campaign_read_only": _l("the campaign is %(status)s: read-only"),
    "locked": _l("locked: %(level)s %(name)s is locked"),
    "locked_above": _l("locked above: %(level)s %(name)s is locked"),
    "excluded_above": _l("excluded above: %(level)s %(name)s is excluded from collection"),
    "excluded": _l("%(level)s %(name)s is excluded from collection"),
    "excluded_from_collection": _l("excluded from collection: %(level)s %(name)s does not take part"),
    "submitted": _l("submitted: %(level)s %(name)s is submitted"),
    "submitted_above": _l("submitted above: %(level)s %(name)s is submitted"),
    "reason_required": _l("A reason is required to %(action)s."),
    "reopen_above_first": _l("%(level)s %(name)s is submitted: it must be reopened first"),
    "already_locked": _l("%(level)s %(name)s is already locked"),
    "not_locked": _l("%(level)s %(name)s is not locked"),
    "already_submitted": _l("%(level)s %(name)s is already submitted"),
    "children_pending": _children_pending,
    "not_submitted": _l("%(level)s %(name)s is not submitted"),
    "already_excluded": _l("%(level)s %(name)s is already excluded"),
    "not_excluded": _l("%(level)s %(name)s is not excluded"),
    "extended_already_requested": _l("the extended section is already requested"),
    "extended_not_requested": _l("the extended section was not requested"),
    "extended_submitted": _l("the extended section is submitted"),
    "extended_already_submitted": _l("the extended section is already submitted"),
    "section_problems": _section_problems,
    # workflows.values
    "no_such_section": _l("%(section)s does not exist for a %(level_noun)s"),
    "values_not_object": _l("the values must be an object of field keys to values"),
    "role_may_not_fill": _l("your role does not allow filling in the data of a %(level_noun)s"),
    "stale_version": _l("the data changed since version %(based_on)s: reload and apply your changes again"),
    "values_problems": _values_problems,
    # workflows.campaigns
    "no_ministry": _l("the network has no ministry yet"),
    "commission_only": _l("only the commission manages campaigns"),
    "form_not_published": _l("the form %(form)s (version %(version)s) is not published"),
    "form_wrong_scope": _l("the form %(form)s cannot be used as %(section)s"),
    "name_required": _l("a campaign needs a name"),
    "opens_after_deadline": _l("the campaign must open before its deadline"),
    "ruleset_not_published": _l("the ruleset is not published"),
    "launch_not_draft": _l("the campaign is %(status)s; only a draft can be launched"),
    "invitation_required": _l("The launch needs an invitation message to the inspectorates."),
    "wrong_status": _l("the campaign is %(status)s, not %(expected)s"),
}


def _action_label(action: str) -> str:
    from app.web.campaigns import ACTION_LABELS
    label = ACTION_LABELS.get(action)
    return str(label).lower() if label is not None else action


def translated_params(params: Mapping) -> dict:
    """The params with their codes (level, status, action, section) in the page's language."""
    out = dict(params)
    if "level" in params:
        out["level"] = str(LEVEL_THE.get(params["level"], params["level"]))
        out["level_noun"] = str(LEVEL_NOUN.get(params["level"], params["level"]))
    for key in ("status", "expected"):
        if key in params and params[key] in STATUS:
            out[key] = str(STATUS[params[key]])
    for key in ("section", "scope"):
        if key in params and params[key] in SECTION:
            out[key] = str(SECTION[params[key]])
    if "action" in params:
        out["action"] = _action_label(params["action"])
    if "version" in params and params["version"] is None:
        out["version"] = gettext("latest")
    if "count" in params:
        out["num"] = params["count"]
    return out


def text(code: str | None, params: Mapping | None = None, fallback: str = "") -> str:
    """The refusal ``code`` in the page's language; ``fallback`` (the English message) for an unknown code."""
    entry = TEXTS.get(code or "")
    if entry is None:
        return fallback or code or ""
    p = translated_params(params or {})
    try:
        return entry(p) if callable(entry) else str(entry) % p
    except (KeyError, TypeError, ValueError):
        return fallback or str(entry)


def refusal_text(refusal) -> str:
    """A workflow refusal — a :class:`~core.errors.DomainError` or a :class:`~workflows.errors.Refusal` — in the
    page's language."""
    if isinstance(refusal, Refusal):
        return text(refusal.code, refusal.params, refusal.message)
    details = refusal.details if isinstance(getattr(refusal, "details", None), dict) else {}
    return text(details.get("code"), details.get("params"), getattr(refusal, "message", str(refusal)))


def localized(e: DomainError) -> DomainError:
    """The same kind of error, with the translated message and no details (for the error page)."""
    return type(e)(refusal_text(e))


__all__ = ["TEXTS", "localized", "refusal_text", "text", "translated_params"]
