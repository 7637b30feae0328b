"""Sign-in (first step), sign-out, language, and the profile: details, password, sessions, API tokens."""
from __future__ import annotations

import datetime as dt

from flask import current_app, flash, g, redirect, render_template, request, session as web_session, url_for
from flask_babel import gettext as _

from app.access import access, actor
from app.auth import bp
from app.auth.forms import LoginForm, PasswordChangeForm, ProfileForm, TokenForm
from app.auth.guard import (begin_pending, client_address, complete_login, device_id_for, end_session,
                            relogin_current, require_recent_2fa, safe_next, throttle)
from core import audit
from core.db import session
from core.errors import NotFound
from tenants import accounts, factors, operations, passwords, queries
from tenants.accounts import PasswordRejected
from tenants.models import ApiToken, User

# Kept for imports elsewhere (the old name of safe_next).
_safe_next = safe_next


def minutes(seconds: int) -> int:
    return max(1, (int(seconds) + 59) // 60)


def record_lockouts(locks, user: User | None) -> None:
    for lock in locks:
        audit.record("auth.lockout", actor="system", object_type="users", object_id=user.id if user else None,
                     new={"scope": lock.scope, "seconds": lock.seconds})


def password_messages(codes: list[str]) -> list[str]:
    text = {"too_short": _("The password needs at least %(n)d characters.", n=passwords.MIN_LENGTH),
            "too_long": _("The password may have at most %(n)d characters.", n=passwords.MAX_LENGTH),
            "common": _("This password is too common or too easy to guess. A few unrelated words make a good one."),
            "personal": _("The password must not contain your e-mail address or your name.")}
    return [text.get(c, c) for c in codes]


@bp.route("/login", methods=["GET", "POST"])
@access(public=True)
def login():
    form = LoginForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        user = queries.user_by_email(email)
        address = client_address()
        verdict = throttle().attempt(throttle().password_scopes(email, address, device_id_for(user)))
        if not verdict.allowed:
            flash(_("Too many attempts. Try again in %(n)d minutes.", n=minutes(verdict.retry_after)), "error")
            return render_template("auth/login.html", form=form), 429
        if user is None or not user.active or not passwords.verify_password(user.password_hash, form.password.data):
            record_lockouts(throttle().failed(verdict), user)
            audit.record("auth.login_failed", user=None, actor="anonymous", object_type="users",
                         object_id=user.id if user else None, reason="password")
            flash(_("Wrong e-mail or password."), "error")
            return render_template("auth/login.html", form=form), 200
        throttle().succeeded(verdict)
        if passwords.needs_rehash(user.password_hash):
            user.password_hash = passwords.hash_password(form.password.data)
        if factors.has_factor(user):
            begin_pending(user, request.args.get("next"))
            return redirect(url_for("auth.verify"))
        return redirect(complete_login(user, "none", request.args.get("next")))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@access()
def logout():
    user = actor()
    operations.bump_session_version(user, "logout")
    end_session()
    return redirect(url_for("auth.login"))


def render_profile(status: int = 200, **extra):
    user = actor()
    g.personal_data = True
    cfg = current_app.config
    idle = dt.timedelta(minutes=cfg["SESSION_IDLE_MINUTES"])
    forms = {"profile_form": ProfileForm(name=user.name, phone=user.phone), "password_form": PasswordChangeForm(),
             "token_form": TokenForm()}
    forms.update({k: v for k, v in extra.items() if k.endswith("_form")})
    return render_template(
        "auth/profile.html", user=user, tokens=queries.tokens_of(user), factors=factors.factors_of(user),
        factor_required=factors.requires_second_factor(user), recovery_left=factors.recovery_codes_left(user),
        sessions=accounts.active_sessions(user, idle=idle, absolute=current_app.permanent_session_lifetime),
        current_sid=web_session.get("sid"), masked=factors.masked,
        **forms, **{k: v for k, v in extra.items() if not k.endswith("_form")}), status


@bp.route("/profile")
@access()
def profile():
    return render_profile()


@bp.route("/profile/details", methods=["POST"])
@access()
def update_details():
    form = ProfileForm()
    if not form.validate_on_submit():
        flash(_("Check the name and phone."), "error")
        return render_profile(422, profile_form=form)
    if accounts.update_profile(actor(), name=form.name.data, phone=form.phone.data):
        flash(_("Your details were saved."), "ok")
    return redirect(url_for("auth.profile"))


@bp.route("/profile/password", methods=["POST"])
@access()
def change_password():
    form = PasswordChangeForm()
    user = actor()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for e in errors:
                flash(str(e), "error")
        return render_profile(422, password_form=form)
    try:
        ok = accounts.change_password(user, form.current.data, form.new.data)
    except PasswordRejected as e:
        for msg in password_messages(e.details):
            flash(msg, "error")
        return render_profile(422, password_form=form)
    if not ok:
        flash(_("The current password is wrong."), "error")
        return render_profile(200, password_form=form)  # 200: the failed attempt is audited (committed)
    # Every other session ends (the version moved on); this one continues on a fresh cookie.
    relogin_current(user)
    flash(_("Your password was changed. Your other sessions were signed out."), "ok")
    return redirect(url_for("auth.profile"))


@bp.route("/profile/sessions/end-others", methods=["POST"])
@access()
def end_other_sessions():
    user = actor()
    accounts.end_other_sessions(user, web_session.get("sid"))
    relogin_current(user)
    flash(_("Every other session was signed out."), "ok")
    return redirect(url_for("auth.profile"))


@bp.route("/profile/tokens", methods=["POST"])
@access()
@require_recent_2fa()
def create_token():
    form = TokenForm()
    if not form.validate_on_submit():
        flash(_("Give the token a name."), "error")
        return redirect(url_for("auth.profile"))
    _tok, raw = operations.issue_token(actor(), form.name.data.strip())
    return render_profile(new_token=raw)


@bp.route("/profile/tokens/<int:token_id>/revoke", methods=["POST"])
@access()
def revoke_token(token_id: int):
    tok = session.get(ApiToken, token_id)
    if tok is None or tok.user_id != actor().id:
        raise NotFound()
    operations.revoke_token(tok, actor=actor())
    flash(_("Token revoked."), "ok")
    return redirect(url_for("auth.profile"))
