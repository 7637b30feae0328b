from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session as web_session, url_for
from flask_babel import gettext as _
from flask_login import login_user, logout_user
from sqlalchemy import select

from app.access import access, actor
from app.auth import bp
from app.auth.forms import LoginForm, TokenForm
from core import audit
from core.db import session
from tenants import operations
from tenants.models import ApiToken, User
from tenants.passwords import verify_password


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("web.home")


@bp.route("/login", methods=["GET", "POST"])
@access(public=True)
def login():
    form = LoginForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        user = session.execute(select(User).where(User.email == email)).scalar()
        if user is None or not user.active or not verify_password(user.password_hash, form.password.data):
            audit.record("auth.login_failed", user=None, actor="anonymous", object_type="users",
                         object_id=user.id if user else None)
            flash(_("Wrong e-mail or password."), "error")
            return render_template("auth/login.html", form=form), 200
        # A fresh session at login: nothing from before the login survives.
        lang = web_session.get("lang")
        web_session.clear()
        if lang:
            web_session["lang"] = lang
        login_user(user)
        web_session.permanent = True
        audit.record("auth.login", user=user, obj=user)
        return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@access()
def logout():
    user = actor()
    operations.bump_session_version(user, "logout")
    logout_user()
    web_session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/lang/<code>", methods=["POST"])
@access(public=True)
def set_language(code: str):
    if code in ("ro", "en"):
        web_session["lang"] = code
    return redirect(_safe_next(request.form.get("next")))


@bp.route("/profile")
@access()
def profile():
    user = actor()
    tokens = session.execute(select(ApiToken).where(ApiToken.user_id == user.id)
                             .order_by(ApiToken.created_at.desc())).scalars().all()
    return render_template("auth/profile.html", user=user, tokens=tokens, token_form=TokenForm())


@bp.route("/profile/tokens", methods=["POST"])
@access()
def create_token():
    form = TokenForm()
    if not form.validate_on_submit():
        flash(_("Give the token a name."), "error")
        return redirect(url_for("auth.profile"))
    tok, raw = operations.issue_token(actor(), form.name.data.strip())
    tokens = session.execute(select(ApiToken).where(ApiToken.user_id == actor().id)
                             .order_by(ApiToken.created_at.desc())).scalars().all()
    return render_template("auth/profile.html", user=actor(), tokens=tokens, token_form=TokenForm(), new_token=raw)


@bp.route("/profile/tokens/<int:token_id>/revoke", methods=["POST"])
@access()
def revoke_token(token_id: int):
    tok = session.get(ApiToken, token_id)
    if tok is None or tok.user_id != actor().id:
        from core.errors import NotFound
        raise NotFound()
    operations.revoke_token(tok, actor=actor())
    flash(_("Token revoked."), "ok")
    return redirect(url_for("auth.profile"))
