"""The second step of sign-in, re-authentication, and managing one's factors and recovery codes.

Pages and field names (the browser tests rely on them):
- ``/login/verify?method=totp|sms|email|recovery``: form ``#verify-form`` with hidden ``method`` and text ``code``;
  for e-mail/SMS, form ``#send-code`` (hidden ``channel``) sends the code first.
- ``/reauth?next=…``: the same forms for a signed-in user; without a factor, a ``password`` field.
- ``/profile/factors/add``: choose; ``/profile/factors/totp``: QR + secret, field ``code``;
  ``/profile/factors/codes`` (POST ``channel``, ``phone``) then ``/profile/factors/codes/confirm``, field ``code``.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from flask import current_app, flash, g, redirect, render_template, request, session as web_session, url_for
from flask_babel import gettext as _

from app.access import access, actor
from app.auth import bp
from app.auth.forms import CodeChannelForm, CodeForm, ConfirmCodeForm, ReauthPasswordForm, SendCodeForm, TotpConfirmForm
from app.auth.guard import (client_address, complete_login, now, pending_user, relogin_current, require_recent_2fa,
                            safe_next, throttle)
from app.auth.views import minutes, record_lockouts
from core import audit, mail
from core.errors import Conflict
from tenants import factors, passwords, sms
from tenants.models import User

METHOD_ORDER = ("totp", "sms", "email")


def _sms_gateway():
    return current_app.extensions.get("arbor_sms")


def methods_for(user: User) -> list[str]:
    kinds = {f.kind for f in factors.factors_of(user)}
    found = [m for m in METHOD_ORDER if m in kinds and (m != "sms" or _sms_gateway() is not None)]
    if kinds and factors.recovery_codes_left(user):
        found.append("recovery")
    return found


def send_code(user: User, channel: str, destination: str, purpose: str, attempt: str) -> bool:
    """Issue a code and send it after the commit; False (with a message) when too many were sent."""
    verdict = throttle().attempt(throttle().send_scopes(user.id))
    if not verdict.allowed:
        flash(_("Too many codes were sent. Try again in %(n)d minutes.", n=minutes(verdict.retry_after)), "error")
        return False
    code = factors.issue_code(user, channel, purpose, attempt, destination)
    if channel == "email":
        mail.send(destination, _("Your Arbor code: %(code)s", code=code),
                  _("Your Arbor code is %(code)s. It works once, within 10 minutes.\n\n"
                    "If you did not ask for it, someone may know your password: change it.", code=code))
    else:
        sms.send_after_commit(_sms_gateway(), destination,
                              _("Arbor code: %(code)s (valid 10 minutes, once). Do not give it to anyone.", code=code))
    flash(_("We sent a code to %(to)s.", to=factors.masked(destination)), "ok")
    return True


def _check(user: User, form: CodeForm, purpose: str, attempt: str) -> tuple[bool, int]:
    """Throttled second-factor check; returns (passed, seconds to wait when refused)."""
    verdict = throttle().attempt(throttle().code_scopes(user.id, client_address()))
    if not verdict.allowed:
        return False, verdict.retry_after
    if factors.verify(user, form.method.data, form.code.data, purpose=purpose, attempt=attempt):
        throttle().succeeded(verdict)
        return True, 0
    record_lockouts(throttle().failed(verdict), user)
    audit.record("auth.second_factor_failed", actor="anonymous" if purpose == "login" else f"user {user.id}",
                 user=None if purpose == "login" else user, object_type="users", object_id=user.id,
                 new={"method": form.method.data, "purpose": purpose})
    return False, 0


def _render_verify(user: User, mode: str, method: str, form, status: int = 200):
    methods = methods_for(user)
    return render_template("auth/verify.html", mode=mode, methods=methods, method=method, form=form,
                           send_form=SendCodeForm(channel=method), next=request.values.get("next"),
                           destination=factors.masked(getattr(factors.factor(user, method), "destination", None))
                           if method in ("email", "sms") else None), status


def _chosen_method(user: User) -> str | None:
    methods = methods_for(user)
    if not methods:
        return None
    wanted = request.values.get("method")
    return wanted if wanted in methods else methods[0]


@bp.route("/login/verify", methods=["GET", "POST"])
@access(public=True)
def verify():
    user, pending = pending_user()
    if user is None:
        flash(_("Sign in again, please."), "info")
        return redirect(url_for("auth.login"))
    method = _chosen_method(user)
    if method is None:  # the factors went away meanwhile
        return redirect(url_for("auth.login"))
    form = CodeForm(method=method)
    if request.method == "POST":
        if not form.validate_on_submit():
            flash(_("Enter the code."), "error")
            return _render_verify(user, "login", method, form, 422)
        ok, wait = _check(user, form, "login", pending["attempt"])
        if wait:
            flash(_("Too many attempts. Try again in %(n)d minutes.", n=minutes(wait)), "error")
            return _render_verify(user, "login", method, form, 429)
        if not ok:
            flash(_("That code is wrong, expired or already used."), "error")
            return _render_verify(user, "login", method, form, 200)  # 200: the failure is audited (committed)
        target = complete_login(user, form.method.data, pending.get("next"))
        if form.method.data == "recovery":
            flash(_("You used a recovery code; %(n)d left. Create new ones from your profile when few are left.",
                    n=factors.recovery_codes_left(user)), "info")
        return redirect(target)
    return _render_verify(user, "login", method, form)


@bp.route("/login/verify/send", methods=["POST"])
@access(public=True)
def verify_send():
    user, pending = pending_user()
    if user is None:
        return redirect(url_for("auth.login"))
    channel = request.form.get("channel")
    f = factors.factor(user, channel) if channel in methods_for(user) and channel in ("email", "sms") else None
    if f is not None:
        send_code(user, channel, f.destination, "login", pending["attempt"])
    return redirect(url_for("auth.verify", method=channel))


# --- re-authentication before sensitive actions ---

def _reauth_attempt() -> str:
    if "reauth_attempt" not in web_session:
        web_session["reauth_attempt"] = secrets.token_urlsafe(24)
    return web_session["reauth_attempt"]


@bp.route("/reauth", methods=["GET", "POST"])
@access()
def reauth():
    user = actor()
    g.personal_data = True
    next_url = safe_next(request.values.get("next") or url_for("auth.profile"))
    if not (web_session.get("mfa") and factors.has_factor(user)):
        form = ReauthPasswordForm()
        if form.validate_on_submit():
            verdict = throttle().attempt([("reauth", str(user.id)), ("address", client_address())])
            if not verdict.allowed:
                flash(_("Too many attempts. Try again in %(n)d minutes.", n=minutes(verdict.retry_after)), "error")
                return render_template("auth/reauth_password.html", form=form, next=next_url), 429
            if passwords.verify_password(user.password_hash, form.password.data):
                throttle().succeeded(verdict)
                web_session["auth_at"] = now()
                return redirect(next_url)
            record_lockouts(throttle().failed(verdict), user)
            audit.record("auth.reauth_failed", user=user, obj=user, new={"method": "password"})
            flash(_("Wrong password."), "error")
        return render_template("auth/reauth_password.html", form=form, next=next_url)
    method = _chosen_method(user)
    form = CodeForm(method=method)
    if request.method == "POST" and form.validate_on_submit():
        ok, wait = _check(user, form, "reauth", _reauth_attempt())
        if ok:
            web_session.pop("reauth_attempt", None)
            web_session["mfa_at"] = now()
            return redirect(next_url)
        flash(_("Too many attempts. Try again in %(n)d minutes.", n=minutes(wait)) if wait
              else _("That code is wrong, expired or already used."), "error")
        return _render_verify(user, "reauth", method, form, 429 if wait else 200)
    return _render_verify(user, "reauth", method, form)


@bp.route("/reauth/send", methods=["POST"])
@access()
def reauth_send():
    user = actor()
    channel = request.form.get("channel")
    f = factors.factor(user, channel) if channel in ("email", "sms") and channel in methods_for(user) else None
    if f is not None:
        send_code(user, channel, f.destination, "reauth", _reauth_attempt())
    return redirect(url_for("auth.reauth", method=channel, next=safe_next(request.form.get("next"))))


# --- enrolment ---

def _after_enrol(user: User, kind: str):
    """Keep this session (the factor change ended every other one); first factor: show recovery codes."""
    codes = factors.generate_recovery_codes(user) if not factors.recovery_codes_left(user) else None
    relogin_current(user, mfa=True, mfa_at=now())
    target = safe_next(web_session.pop("enrol_next", None) or url_for("auth.profile"))
    flash(_("Two-step sign-in is on."), "ok")
    if codes:
        g.personal_data = True
        return render_template("auth/recovery_codes.html", codes=codes, next=target)
    return redirect(target)


@bp.route("/profile/factors/add")
@access()
@require_recent_2fa()
def enrol():
    user = actor()
    if request.args.get("next"):
        web_session["enrol_next"] = safe_next(request.args["next"])
    kinds = {f.kind for f in factors.factors_of(user)}
    return render_template("auth/enrol.html", kinds=kinds, required=factors.requires_second_factor(user),
                           sms_available=_sms_gateway() is not None,
                           code_form=CodeChannelForm(phone=user.phone))


def _pending_totp_secret(user: User, fresh: bool = False) -> str:
    """The secret being enrolled: derived from a nonce in the session and the app's key, so the cookie alone
    does not reveal it."""
    if fresh or "enrol_totp" not in web_session:
        web_session["enrol_totp"] = secrets.token_urlsafe(16)
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, f"totp-enrol:{user.id}:{web_session['enrol_totp']}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:20]).decode()


@bp.route("/profile/factors/totp", methods=["GET", "POST"])
@access()
@require_recent_2fa()
def enrol_totp():
    user = actor()
    g.personal_data = True
    form = TotpConfirmForm()
    secret = _pending_totp_secret(user, fresh=request.method == "GET" and "enrol_totp" not in web_session)
    if form.validate_on_submit():
        verdict = throttle().attempt(throttle().code_scopes(user.id, client_address()))
        step = factors.check_totp_secret(secret, form.code.data) if verdict.allowed else None
        if step is not None:
            throttle().succeeded(verdict)
            factors.enrol(user, "totp", secret=secret, last_step=step)
            web_session.pop("enrol_totp", None)
            return _after_enrol(user, "totp")
        if verdict.allowed:
            record_lockouts(throttle().failed(verdict), user)
            flash(_("That code does not match. Check the phone's clock and try the next code."), "error")
        else:
            flash(_("Too many attempts. Try again in %(n)d minutes.", n=minutes(verdict.retry_after)), "error")
    uri = factors.provisioning_uri(user, secret)
    return render_template("auth/enrol_totp.html", form=form, qr=factors.qr_data_uri(uri), uri=uri,
                           secret=" ".join(secret[i:i + 4] for i in range(0, len(secret), 4)))


@bp.route("/profile/factors/codes", methods=["POST"])
@access()
@require_recent_2fa()
def enrol_code():
    user = actor()
    form = CodeChannelForm()
    if not form.validate_on_submit():
        return redirect(url_for("auth.enrol"))
    channel = form.channel.data
    if channel == "sms":
        destination = sms.normalise_phone(form.phone.data or "")
        if _sms_gateway() is None or destination is None:
            flash(_("Enter a mobile phone number, such as 0722 123 456.") if _sms_gateway() is not None
                  else _("SMS codes are not available on this server."), "error")
            return redirect(url_for("auth.enrol"))
    else:
        destination = user.email
    attempt = secrets.token_urlsafe(24)
    web_session["enrol_code"] = {"channel": channel, "attempt": attempt}
    send_code(user, channel, destination, "enrol", attempt)
    return redirect(url_for("auth.enrol_code_confirm"))


@bp.route("/profile/factors/codes/confirm", methods=["GET", "POST"])
@access()
@require_recent_2fa()
def enrol_code_confirm():
    user = actor()
    pending = web_session.get("enrol_code")
    if not isinstance(pending, dict):
        return redirect(url_for("auth.enrol"))
    form = ConfirmCodeForm()
    if form.validate_on_submit():
        verdict = throttle().attempt(throttle().code_scopes(user.id, client_address()))
        row = factors.check_code(user, "enrol", pending["attempt"], form.code.data, pending["channel"]) \
            if verdict.allowed else None
        if row is not None:
            throttle().succeeded(verdict)
            factors.enrol(user, pending["channel"], destination=row.destination)
            web_session.pop("enrol_code", None)
            return _after_enrol(user, pending["channel"])
        if verdict.allowed:
            record_lockouts(throttle().failed(verdict), user)
            flash(_("That code is wrong, expired or already used."), "error")
        else:
            flash(_("Too many attempts. Try again in %(n)d minutes.", n=minutes(verdict.retry_after)), "error")
    return render_template("auth/enrol_code.html", form=form, channel=pending["channel"])


# --- removal, turning off, recovery codes ---

@bp.route("/profile/factors/<kind>/remove", methods=["POST"])
@access()
@require_recent_2fa()
def remove_factor(kind: str):
    user = actor()
    try:
        factors.remove(user, kind)
    except Conflict:
        flash(_("Your role needs a second factor: add another one before removing this one."), "error")
        return redirect(url_for("auth.profile"))
    left = factors.has_factor(user)
    relogin_current(user, mfa=left, mfa_at=web_session.get("mfa_at") if left else None)
    flash(_("The factor was removed."), "ok")
    return redirect(url_for("auth.profile"))


@bp.route("/profile/factors/off", methods=["POST"])
@access()
@require_recent_2fa()
def disable_factors():
    user = actor()
    try:
        factors.disable_all(user)
    except Conflict:
        flash(_("Your role needs a second factor."), "error")
        return redirect(url_for("auth.profile"))
    relogin_current(user, mfa=False, mfa_at=None)
    flash(_("Two-step sign-in is off."), "ok")
    return redirect(url_for("auth.profile"))


@bp.route("/profile/recovery-codes", methods=["POST"])
@access()
@require_recent_2fa()
def regenerate_recovery_codes():
    user = actor()
    if not factors.has_factor(user):
        return redirect(url_for("auth.profile"))
    g.personal_data = True
    codes = factors.generate_recovery_codes(user)
    return render_template("auth/recovery_codes.html", codes=codes, next=url_for("auth.profile"))
