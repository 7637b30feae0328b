"""Background tasks of form-teacher links: the daily reminder of unopened links about to expire.

``flask links remind`` (run daily by cron) queues ``links.remind``; the task picks the links of
:func:`workflows.links.due_for_reminder`, claims each one once (:func:`workflows.links.claim_reminder`, so a second
run the same day sends nothing) and hands it to the mailer. The mail itself is rendered by the web layer
(templates, translations, the link's URL), which registers it with :func:`set_mailer` — this package never
imports Flask, as :data:`workflows.state.AFTER_TRANSITION` does for the roll-up.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from core.db import utcnow
from core.errors import Conflict
from exports.jobs import task
from workflows import links
from workflows.models import ClassLink

# mailer(link, kind, base_url): queue the mail of ``kind`` ("link" or "reminder") for the link's teacher.
Mailer = Callable[[ClassLink, str, str | None], None]
_MAILER: list[Mailer] = []


def set_mailer(fn: Mailer) -> None:
    """Register the function that renders and queues link mails (one per process; the last one wins)."""
    _MAILER[:] = [fn]


def mailer() -> Mailer:
    if not _MAILER:
        raise Conflict("No mailer for form-teacher links is registered in this process.")
    return _MAILER[0]


@task("links.remind", queue="default")
def remind_due(job, progress, *, base_url: str | None = None, now: str | None = None) -> dict:
    """Remind every due link's teacher once. ``base_url`` is the address teachers open (links carry it);
    ``now`` (ISO 8601) replaces the clock, for tests and catching up."""
    at = dt.datetime.fromisoformat(now) if now else utcnow()
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    send = mailer()
    due = links.due_for_reminder(at)
    reminded = []
    for i, link in enumerate(due, start=1):
        if links.claim_reminder(link, at):
            send(link, "reminder", base_url)
            reminded.append(link.id)
        progress(int(100 * i / len(due)))
    return {"due": len(due), "reminded": len(reminded), "link_ids": reminded}


__all__ = ["Mailer", "mailer", "remind_due", "set_mailer"]
