"""SMS gateways: a registry of named kinds (a duplicate name is an error at import time); one instance per app.

- ``outbox``: development; each message is a text file in the outbox folder (``instance/outbox/sms``).
- ``http``: a provider's HTTP endpoint: ``POST SMS_GATEWAY_URL`` with JSON ``{"to": …, "text": …}`` and
  ``Authorization: Bearer SMS_GATEWAY_TOKEN``; any 2xx answer is success.

Messages leave only after the current transaction commits (:func:`send_after_commit`), like e-mail.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import re
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from core import db

log = logging.getLogger(__name__)
GATEWAYS: dict[str, type[SmsGateway]] = {}


class SmsError(RuntimeError):
    pass


def gateway(name: str):
    """Register a gateway class under ``name``."""
    def deco(cls):
        if name in GATEWAYS and GATEWAYS[name] is not cls:
            raise RuntimeError(f"SMS gateway {name!r} registered twice")
        cls.name = name
        GATEWAYS[name] = cls
        return cls
    return deco


class SmsGateway:
    name = "base"

    def send(self, to: str, text: str) -> str:
        """Send one message now; returns a reference (file path, provider id). Raises SmsError."""
        raise NotImplementedError


@gateway("outbox")
class OutboxGateway(SmsGateway):
    def __init__(self, outbox: str = "instance/outbox/sms", **_ignored):
        self.folder = Path(outbox)

    def send(self, to: str, text: str) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        path = self.folder / f"{stamp}-{re.sub(r'[^0-9+]', '', to)}-{uuid.uuid4().hex[:8]}.txt"
        path.write_text(f"To: {to}\n\n{text}\n", encoding="utf-8")
        log.info("SMS to %s written to %s", to, path)
        return str(path)


@gateway("http")
class HttpGateway(SmsGateway):
    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 10.0, **_ignored):
        if not url:
            raise SmsError("the http SMS gateway needs SMS_GATEWAY_URL")
        self.url, self.token, self.timeout = url, token, timeout

    def send(self, to: str, text: str) -> str:
        body = json.dumps({"to": to, "text": text}).encode()
        req = urllib.request.Request(self.url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", "Accept": "application/json"})
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - configured URL
                answer = resp.read(4096).decode("utf-8", "replace")
                status = resp.status
        except urllib.error.HTTPError as e:
            raise SmsError(f"SMS gateway answered {e.code}") from None
        except (urllib.error.URLError, OSError) as e:
            raise SmsError(f"SMS gateway unreachable: {e}") from None
        if not 200 <= status < 300:
            raise SmsError(f"SMS gateway answered {status}")
        try:
            ref = json.loads(answer).get("id") if answer else None
        except (ValueError, AttributeError):
            ref = None
        log.info("SMS to %s accepted by the gateway", to)
        return str(ref or status)


def make_gateway(name: str | None, **options) -> SmsGateway | None:
    """The configured gateway (None: SMS codes are not offered). Unknown names are a configuration error."""
    if not name:
        return None
    if name not in GATEWAYS:
        raise SmsError(f"unknown SMS gateway {name!r}; known: {', '.join(sorted(GATEWAYS))}")
    return GATEWAYS[name](**options)


def send_after_commit(gw: SmsGateway, to: str, text: str) -> None:
    """Send once the current transaction commits; a failure is logged (the user can ask for a new code)."""
    def _send():
        try:
            gw.send(to, text)
        except SmsError:
            log.exception("SMS to %s failed", to)

    db.on_commit(_send)


PHONE_RE = re.compile(r"^\+?[0-9]{9,15}$")


def normalise_phone(raw: str) -> str | None:
    """'0722 123 456' → '+40722123456'; None when it does not look like a phone number."""
    digits = re.sub(r"[\s().-]", "", raw or "")
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    elif digits.startswith("07") and len(digits) == 10:  # Romanian mobile number
        digits = "+4" + digits
    if not PHONE_RE.match(digits):
        return None
    return digits if digits.startswith("+") else "+" + digits
