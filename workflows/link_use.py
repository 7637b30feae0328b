"""Using a form-teacher link: open it, read its class table, save drafts, submit (seed 003).

Every use re-checks the :class:`~workflows.models.ClassLink` row (:func:`workflows.links.refusal`), so a revoke,
re-issue, lock, submission or closed campaign takes effect at once; a refused use reads and writes nothing. Each
visit, save and submit updates the link's ``opened_at``/``saved_at``/``submitted_at``/``last_used_at`` (what the
unit sees per class) and is audited as ``link <id>`` with a keyed hash of the client address, never the address.
No Flask here: the pages pass the address hash (:func:`workflows.links.address_hash`).
"""
from __future__ import annotations

import datetime as dt

from core import audit
from core.db import session, utcnow
from core.errors import Conflict
from workflows import links, state as wf, values as wv
from workflows.models import CampaignState, ClassLink


class LinkRefused(Conflict):
    """The link cannot be used now; ``refusal`` is one of :data:`workflows.links.REFUSALS`."""

    def __init__(self, refusal: str):
        super().__init__(f"This link cannot be used: {refusal}.", details={"refusal": refusal})
        self.refusal = refusal


def actor_label(link: ClassLink) -> str:
    """How the audit trail names a link's user."""
    return f"link {link.id}"


def load(link_id: int, version: int, now: dt.datetime | None = None) -> tuple[ClassLink | None, str | None]:
    """The link a page session is bound to, re-read from the database, and why it cannot be used (or None)."""
    link = session.get(ClassLink, link_id, populate_existing=True)
    if link is None:
        return None, "invalid"
    return link, links.refusal(link, version, now)


def _check(link: ClassLink, version: int | None, now: dt.datetime) -> None:
    problem = links.refusal(link, version, now)
    if problem is not None:
        raise LinkRefused(problem)


def _audit(link: ClassLink, action: str, address: str, now: dt.datetime, **new) -> None:
    link.last_used_at = now
    session.flush()
    audit.record(action, actor=actor_label(link), obj=link, node_id=link.unit_id,
                 new={"class_id": link.class_id, "campaign_id": link.campaign_id, "version": link.version,
                      "address": address, **new})


def record_open(link: ClassLink, version: int, address: str, now: dt.datetime | None = None) -> ClassLink:
    """A visit through the link (the token exchanged for a page session): LinkRefused when it cannot be used."""
    now = now or utcnow()
    _check(link, version, now)
    if link.opened_at is None:
        link.opened_at = now
    _audit(link, "link.open", address, now)
    return link


def record_visit(link: ClassLink, version: int, address: str, now: dt.datetime | None = None) -> ClassLink:
    """The class table shown to the link's page session (every page view after the token's exchange)."""
    now = now or utcnow()
    _check(link, version, now)
    _audit(link, "link.visit", address, now)
    return link


def values(link: ClassLink, version: int, now: dt.datetime | None = None) -> wv.FormValues:
    """The class table the link may fill (stored values, or the generated defaults before the first save)."""
    _check(link, version, now or utcnow())
    return wv.get_values(link.campaign, link.school_class, "class")


def submitted_values(link: ClassLink) -> wv.FormValues:
    """The class table as submitted (the summary shown right after the submit): only while it is submitted."""
    if class_state(link).state != "submitted":
        raise LinkRefused(links.refusal(link) or "invalid")
    return wv.get_values(link.campaign, link.school_class, "class")


def class_state(link: ClassLink) -> CampaignState:
    return wf.state_for(link.campaign, link.school_class)


def save(link: ClassLink, version: int, new_values: dict, expected_version: int, address: str,
         now: dt.datetime | None = None) -> wv.FormValues:
    """Save a draft of the link's own class table (``expected_version``: the values' version the page holds).

    LinkRefused when the link cannot be used; otherwise what :func:`workflows.values.save_values` raises
    (Conflict for a stale version, Invalid for wrong values)."""
    now = now or utcnow()
    _check(link, version, now)
    before = wv.get_values(link.campaign, link.school_class, "class").values
    saved = wv.save_values(links.actor_for(link), link.campaign, link.school_class, new_values, expected_version,
                           mode="draft", section="class")
    link.saved_at = now
    changed = sorted(k for k in set(saved.values) | set(before) if saved.values.get(k) != before.get(k))
    _audit(link, "link.save", address, now, values_version=saved.version, fields=changed)
    return saved


def submit_errors(link: ClassLink) -> list:
    """What still stops the class table from being submitted (FieldErrors; empty when it may be)."""
    return wv.submit_errors(link.campaign, class_state(link), "class")


def submit(link: ClassLink, version: int, address: str, now: dt.datetime | None = None) -> CampaignState:
    """Report the class table complete. LinkRefused when the link cannot be used; Invalid (with the broken rules)
    or Conflict from :func:`workflows.state.transition`."""
    now = now or utcnow()
    _check(link, version, now)
    state = wf.transition(links.actor_for(link), link.campaign, link.school_class, "submit")
    link.submitted_at = now
    _audit(link, "link.submit", address, now, state=state.state)
    return state


__all__ = ["LinkRefused", "actor_label", "class_state", "load", "record_open", "record_visit", "save", "submit",
           "submit_errors", "submitted_values", "values"]
