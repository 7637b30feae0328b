"""The signed-in session: how it starts and ends, what a half-signed-in session may reach, and recent 2FA.

Session keys after a complete sign-in (the cookie is signed, so none of them can be forged):
``login_at`` / ``seen_at`` (epoch seconds: absolute and idle timeouts), ``mfa`` (the second step was passed),
``mfa_at`` (last time a second factor was entered), ``auth_at`` (last time the password was), ``sid`` (the row in
``user_sessions``). Before the second step the session holds only ``pending`` (user id, version, a random attempt
id, time, next page) and nobody is signed in.

A staff user without a factor is signed in with ``mfa`` false and may reach only :data:`HALF_SESSION_ENDPOINTS`
(enrolment, re-authentication, sign-out, language, static files) until a factor is enrolled: enforced here, for
every request, in one place.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import secrets
import time
from urllib.parse import urlsplit

from flask import (current_app, flash, g, jsonify, redirect, request, session as web_session, url_for)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from app.access import wants_json
from app.auth import bp
from core import audit
from tenants import accounts, factors
from tenants.models import User

PENDING_SECONDS = 600  # the second step must follow the password within 10 minutes, like a code's validity
SENSITIVE_MAX_AGE = 600  # factor changes and token issuing ask for the second factor again after 10 minutes
DEVICE_COOKIE = "arbor_device"
DEVICE_SALT = "arbor.device"
DEVICE_DAYS = 90
HALF_SESSION_ENDPOINTS = frozenset({
    "auth.enrol", "auth.enrol_totp", "auth.enrol_code", "auth.enrol_code_confirm", "auth.reauth",
    "auth.reauth_send", "auth.logout", "web.set_language", "static",
})


def now() -> float:
    return time.time()


def throttle():
    return current_app.extensions["arbor_throttle"]


def client_address() -> str:
    """The client address (ProxyFix has applied X-Forwarded-For in production); IPv6 folded to its /64."""
    raw = request.remote_addr or "unknown"
    try:
        ip = ipaddress.ip_address(raw)
    except ValueError:
        return raw
    if ip.version == 6 and not ip.ipv4_mapped:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False).network_address) + "/64"
    return str(ip.ipv4_mapped or ip) if ip.version == 6 else str(ip)


def address_hash() -> str:
    """Keyed hash of the client address: sessions can be told apart without storing addresses."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, client_address().encode(), hashlib.sha256).hexdigest()[:16]


def safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc \
            and "\\" not in target:
        return target
    return url_for("web.home")


def _real(user):
    """The user object itself, not the ``current_user`` proxy (login_user must not store a proxy to itself)."""
    getter = getattr(user, "_get_current_object", None)
    return getter() if getter is not None else user


def _fresh_session() -> None:
    """Nothing from before survives a change of authentication level, except the language choice."""
    lang = web_session.get("lang")
    web_session.clear()
    if lang:
        web_session["lang"] = lang


# --- the pending second step ---

def begin_pending(user: User, next_url: str | None) -> None:
    _fresh_session()
    web_session["pending"] = {"uid": user.id, "v": user.session_version, "attempt": secrets.token_urlsafe(24),
                              "at": now(), "next": safe_next(next_url)}


def pending_user() -> tuple[User, dict] | tuple[None, None]:
    from core.db import session
    p = web_session.get("pending")
    if not isinstance(p, dict) or now() - p.get("at", 0) > PENDING_SECONDS:
        return None, None
    user = session.get(User, p.get("uid"))
    if user is None or not user.active or user.session_version != p.get("v"):
        return None, None
    return user, p


# --- complete sign-in, re-sign-in after a version bump, sign-out ---

def complete_login(user: User, method: str, next_url: str | None = None) -> str:
    """Sign ``user`` in on a fresh session; ``method`` is how the second step passed (``none``: no factor).
    Returns where to go next. A user who has a factor is never signed in with ``none``: they get the second
    step instead."""
    user = _real(user)
    if method == "none" and factors.has_factor(user):
        begin_pending(user, next_url)
        return url_for("auth.verify")
    _fresh_session()
    login_user(user)
    web_session.permanent = True
    t = now()
    mfa = method != "none"
    web_session.update(login_at=t, seen_at=t, touched_at=t, auth_at=t, mfa=mfa, mfa_at=t if mfa else None)
    row = accounts.start_session(user, address_hash=address_hash(), agent=request.user_agent.string or "",
                                 method=method, keep_for=current_app.permanent_session_lifetime)
    web_session["sid"] = row.id
    audit.record("auth.login", user=user, obj=user, new={"method": method})
    throttle().trust_address(user.email, client_address())
    g.remember_device_for = user.id
    if not mfa and factors.requires_second_factor(user):
        return url_for("auth.enrol", next=safe_next(next_url))
    return safe_next(next_url)


def relogin_current(user: User, **changes) -> None:
    """After the user's session version moved on (factor or password change, other sessions ended): keep this
    session, on a fresh cookie carrying the new version."""
    user = _real(user)
    keep = {k: web_session.get(k) for k in ("login_at", "auth_at", "mfa", "mfa_at", "sid")}
    keep.update(changes)
    _fresh_session()
    login_user(user)
    web_session.permanent = True
    web_session.update(keep, seen_at=now(), touched_at=now())
    if keep.get("sid"):
        accounts.touch_session(user, keep["sid"], version=user.session_version)


def end_session() -> None:
    logout_user()
    _fresh_session()


# --- recent second factor before sensitive actions ---

def recent_2fa_ok(max_age_seconds: int) -> bool:
    """True when the signed-in user entered their second factor (or, having none, their password) within
    ``max_age_seconds``."""
    if not current_user.is_authenticated:
        return False
    stamp = web_session.get("mfa_at") if web_session.get("mfa") else web_session.get("auth_at")
    return stamp is not None and now() - stamp <= max_age_seconds


def require_recent_2fa(max_age_seconds: int = SENSITIVE_MAX_AGE):
    """Decorator for sensitive views (factor changes, API tokens, signing): unless the second factor was entered
    within ``max_age_seconds``, send the browser to re-enter it and come back. API calls with a bearer token
    are refused (403 ``reauth_required``): a token cannot re-enter a factor."""
    def deco(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if g.get("api_user") is not None or not recent_2fa_ok(max_age_seconds):
                if wants_json() or g.get("api_user") is not None:
                    return jsonify({"error": {"code": "reauth_required", "details": None,
                                              "message": "enter your second factor again to do this"}}), 403
                back = request.full_path if request.method == "GET" else (_referrer_path() or url_for("auth.profile"))
                flash(_("Confirm it is you, then repeat the action."), "info")
                return redirect(url_for("auth.reauth", next=safe_next(back)))
            return view(*args, **kwargs)
        wrapper.recent_2fa = max_age_seconds
        return wrapper
    return deco


def _referrer_path() -> str | None:
    ref = request.referrer
    if not ref:
        return None
    parts = urlsplit(ref)
    if parts.netloc and parts.netloc != request.host:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


# --- device cookie: clients that completed a sign-in of an account are not blocked by its lockout ---

def _device_serializer():
    from itsdangerous import URLSafeTimedSerializer
    keys = [*current_app.config.get("SECRET_KEY_FALLBACKS", []), current_app.config["SECRET_KEY"]]
    return URLSafeTimedSerializer(keys, salt=DEVICE_SALT)


def _read_device() -> dict | None:
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return None
    from itsdangerous import BadSignature
    try:
        data = _device_serializer().loads(raw, max_age=DEVICE_DAYS * 86400)
    except BadSignature:
        return None
    return data if isinstance(data, dict) and isinstance(data.get("u"), list) else None


def device_id_for(user: User | None) -> str | None:
    data = _read_device()
    if user is None or data is None or user.id not in data["u"]:
        return None
    return str(data.get("n"))


@bp.after_app_request
def _remember_device(response):
    uid = g.pop("remember_device_for", None)
    if uid is not None:
        data = _read_device() or {"n": secrets.token_urlsafe(12), "u": []}
        data["u"] = ([u for u in data["u"] if u != uid] + [uid])[-5:]
        response.set_cookie(DEVICE_COOKIE, _device_serializer().dumps(data), max_age=DEVICE_DAYS * 86400,
                            secure=current_app.config["SESSION_COOKIE_SECURE"], httponly=True, samesite="Lax")
    return response


# --- the one guard every request passes ---

@bp.before_app_request
def _guard():
    if request.endpoint in (None, "static"):
        return None
    if not current_user.is_authenticated:
        if "login_at" in web_session:  # a cookie whose version died (logout elsewhere, password change, disable)
            _fresh_session()
        return None
    t = now()
    idle = current_app.config["SESSION_IDLE_MINUTES"] * 60
    absolute = current_app.permanent_session_lifetime.total_seconds()
    login_at, seen_at = web_session.get("login_at"), web_session.get("seen_at")
    if login_at is None or seen_at is None or t - login_at > absolute or t - seen_at > idle:
        end_session()
        if wants_json():
            return jsonify({"error": {"code": "unauthenticated", "message": "the session expired",
                                      "details": None}}), 401
        flash(_("Your session expired. Please sign in again."), "info")
        return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))
    if t - seen_at > 60:
        web_session["seen_at"] = t
    if web_session.get("sid") and t - web_session.get("touched_at", 0) > 300:
        web_session["touched_at"] = t
        accounts.touch_session(current_user, web_session["sid"])
    if not web_session.get("mfa") and factors.requires_second_factor(current_user) \
            and request.endpoint not in HALF_SESSION_ENDPOINTS:
        if wants_json():
            return jsonify({"error": {"code": "second_factor_required", "details": None,
                                      "message": "set up a second factor before using Arbor"}}), 403
        return redirect(url_for("auth.enrol"))
    return None
