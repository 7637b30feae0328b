"""Outgoing e-mail. :func:`send` queues a job on the ``emails`` queue, dispatched once the caller commits; the job
delivers through SMTP when ``SMTP_URL`` is set (``smtp://user:pass@host:587?starttls=1``, or ``smtps://`` for
TLS from the first byte), otherwise it writes an ``.eml`` file to the outbox folder and logs one line.

Logs name the recipient and the subject only (codes and tokens masked): bodies carry sign-in codes and
invitation links.
"""
from __future__ import annotations

import logging
import re
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import text

from core import db
from core.db import session, utcnow
from exports.jobs import enqueue, task

log = logging.getLogger(__name__)


@dataclass
class Settings:
    smtp_url: str | None = None
    mail_from: str = "Arbor <no-reply@arbor.local>"
    outbox: str | None = "instance/outbox"
    timeout: float = 30.0


settings = Settings()


def configure(smtp_url: str | None = None, mail_from: str | None = None, outbox: str | None = None) -> None:
    """Called once by ``create_app`` from the configuration (SMTP_URL, MAIL_FROM, MAIL_OUTBOX)."""
    settings.smtp_url = smtp_url or None
    if mail_from:
        settings.mail_from = mail_from
    if outbox:
        settings.outbox = outbox


def send(to: str, subject: str, body: str, html: str | None = None, *, node_id: int | None = None,
         user_id: int | None = None):
    """Queue one message; it leaves after the current transaction commits (and never if it rolls back).

    The job is scoped to ``node_id`` (default: the root of the tree) and belongs to nobody unless ``user_id`` is
    given, so a message's body does not show up in anyone's job list. Returns the job, or None when there is no
    tree yet to scope it to (then the message is delivered right after the commit, without a job row).
    """
    if node_id is None:
        node_id = session.execute(text("SELECT id FROM nodes WHERE parent_id IS NULL ORDER BY id LIMIT 1")).scalar()
    if node_id is None:
        db.on_commit(lambda: deliver(to, subject, body, html))
        return None
    return enqueue("mail.send", node_id=node_id, user_id=user_id, to=to, subject=subject, body=body, html=html)


@task("mail.send", queue="emails")
def _send_task(job, progress, *, to: str, subject: str, body: str, html: str | None = None) -> dict:
    where = deliver(to, subject, body, html)
    # Once sent, the job keeps who and what about, not the body (it may hold a code or a link).
    job.params = {"to": to, "subject": redact(subject)}
    return {"to": to, "via": where}


_SECRETISH = re.compile(r"\d{4,}|[A-Za-z0-9_\-.]{24,}")


def redact(text: str) -> str:
    """``text`` with anything that looks like a code or a token (4+ digits, 24+ token characters) masked, for
    logs and kept records: a subject may carry a sign-in code."""
    return _SECRETISH.sub("…", text or "")


def build_message(to: str, subject: str, body: str, html: str | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = make_msgid(domain=settings.mail_from.rsplit("@", 1)[-1].strip("> ") or "arbor.local")
    msg.set_content(body)
    if html:
        msg.add_alternative(html, subtype="html")
    return msg


def deliver(to: str, subject: str, body: str, html: str | None = None) -> str:
    """Send now, through SMTP or into the outbox; returns "smtp" or the .eml path. SMTP errors propagate."""
    msg = build_message(to, subject, body, html)
    if settings.smtp_url:
        _smtp_send(settings.smtp_url, msg)
        log.info("mail sent to %s: %s", to, redact(subject))
        return "smtp"
    path = _write_outbox(msg)
    log.info("mail to %s: %s (written to %s)", to, redact(subject), path)
    return str(path)


def _smtp_send(url: str, msg: EmailMessage) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError("SMTP_URL must start with smtp:// or smtps://")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    starttls = query.get("starttls", "0").lower() in ("1", "true", "yes", "on")
    host = parts.hostname or "localhost"
    context = ssl.create_default_context()
    if parts.scheme == "smtps":
        client = smtplib.SMTP_SSL(host, parts.port or 465, timeout=settings.timeout, context=context)
    else:
        client = smtplib.SMTP(host, parts.port or (587 if starttls else 25), timeout=settings.timeout)
    with client:
        client.ehlo()
        if starttls:
            client.starttls(context=context)
            client.ehlo()
        if parts.username:
            client.login(unquote(parts.username), unquote(parts.password or ""))
        client.send_message(msg)


def _write_outbox(msg: EmailMessage) -> Path:
    folder = Path(settings.outbox or "instance/outbox")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{utcnow():%Y%m%d-%H%M%S-%f}-{uuid.uuid4().hex[:6]}.eml"  # sorts by time
    path.write_bytes(bytes(msg))
    return path
