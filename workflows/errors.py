"""Refusals of the collection workflow: a stable code, its params and the English message, kept in one table.

Every Conflict / Forbidden / Invalid raised by :mod:`workflows` carries ``details={"code": …, "params": {…}}``
(beside any other detail keys, e.g. ``current_version`` of a stale save). The API returns the English message
built here; the web pages translate by code (``app/web/campaign_messages.py``). Params are JSON-safe: level
names are codes (``inspectorate``/``school``/``unit``/``class``), statuses and actions are their codes too.

The templates are plain English (not gettext msgids): the UI has its own msgids, keyed by code.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from core.errors import DomainError

PLURAL = {"inspectorate": "inspectorates", "school": "schools", "unit": "units", "class": "classes"}


def _children_pending(count: int, child_level: str, **_params) -> str:
    return f"{count} {child_level if count == 1 else PLURAL.get(child_level, child_level)} not submitted"


def _section_problems(section: str, count: int, **_params) -> str:
    return f"the {section if section != 'class' else 'class table'} has {count} problem(s)"


def _role_may_not(action: str, level: str, **_params) -> str:
    return f"your role may not {action.replace('-', ' ')} this {level}"


def _form_not_published(form: str, version: int | None = None, **_params) -> str:
    return f"form {form} v{version or 'latest'} is not published"


def _stale_version(based_on: int, current: int | None = None, **_params) -> str:
    now = f" (now version {current})" if current is not None else ""
    return f"the data changed since version {based_on}{now}: reload and apply your changes again"


# code → English template ({params}) or a function of the params.
MESSAGES: dict[str, str | Callable[..., str]] = {
    # state machine (workflows.state)
    "unknown_action": "unknown action {action!r}",
    "role_may_not": _role_may_not,
    "campaign_read_only": "the campaign is {status}: read-only",
    "locked": "locked: the {level} {name} is locked",
    "locked_above": "locked above: the {level} {name} is locked",
    "excluded_above": "excluded above: the {level} {name} is excluded from collection",
    "excluded": "the {level} {name} is excluded from collection",
    "excluded_from_collection": "excluded from collection",
    "submitted": "submitted: the {level} {name} is submitted",
    "submitted_above": "submitted above: the {level} {name} is submitted",
    "reason_required": "a reason is required to {action}",
    "reopen_above_first": "the {level} {name} is submitted: it must be reopened first",
    "already_locked": "the {level} {name} is already locked",
    "not_locked": "the {level} {name} is not locked",
    "already_submitted": "the {level} {name} is already submitted",
    "children_pending": _children_pending,
    "not_submitted": "the {level} {name} is not submitted",
    "already_excluded": "the {level} {name} is already excluded",
    "not_excluded": "the {level} {name} is not excluded",
    "extended_already_requested": "the extended section is already requested",
    "extended_not_requested": "the extended section was not requested",
    "extended_submitted": "the extended section is submitted",
    "extended_already_submitted": "the extended section is already submitted",
    "section_problems": _section_problems,
    # values (workflows.values)
    "no_such_section": "a {level} has no {section} section",
    "values_not_object": "values must be an object of field keys to values",
    "role_may_not_fill": "your role may not fill this {level}'s data",
    "stale_version": _stale_version,
    "values_problems": "{count} problem(s) in the values",
    # campaigns (workflows.campaigns)
    "no_ministry": "there is no ministry node yet",
    "commission_only": "only the commission manages campaigns",
    "form_not_published": _form_not_published,
    "form_wrong_scope": "form {form} is a {scope} form, not a {section} form",
    "name_required": "a campaign needs a name",
    "opens_after_deadline": "the campaign must open before its deadline",
    "ruleset_not_published": "the ruleset is not published",
    "launch_not_draft": "the campaign is {status}; only a draft can be launched",
    "invitation_required": "the launch needs an invitation message to the inspectorates",
    "wrong_status": "the campaign is {status}, not {expected}",
}


def message(code: str, **params) -> str:
    """The English message of ``code`` with ``params`` filled in (the code itself if unknown)."""
    template = MESSAGES.get(code, code)
    try:
        return template(**params) if callable(template) else template.format(**params)
    except (KeyError, IndexError, ValueError, TypeError):
        return template if isinstance(template, str) else code


@dataclass(frozen=True)
class Refusal:
    """Why something may not happen: a code and its params (``message`` is the English text)."""
    code: str
    params: dict = field(default_factory=dict)

    @property
    def message(self) -> str:
        return message(self.code, **self.params)

    def details(self, **extra) -> dict:
        return {**extra, "code": self.code, "params": dict(self.params)}

    def error(self, kind: type[DomainError], **extra_details) -> DomainError:
        return kind(self.message, details=self.details(**extra_details))

    def __str__(self) -> str:
        return self.message


def refuse(kind: type[DomainError], code: str, details: dict | None = None, **params) -> DomainError:
    """The exception to raise: ``raise refuse(Conflict, "locked_above", level="school", name="Școala A1")``.
    ``details`` are kept beside ``code`` and ``params``."""
    return Refusal(code, params).error(kind, **(details or {}))


def subject(state) -> dict:
    """The params naming a state row: its level code and the node's or class's name."""
    name = state.school_class.name if state.level == "class" else state.node.name
    return {"level": state.level, "name": name}


__all__ = ["MESSAGES", "Refusal", "message", "refuse", "subject"]
