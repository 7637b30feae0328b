"""Password reset by e-mail link: signed (own salt), expiring, single use (bound to the password hash it was issued
against). Setting the new password signs nobody in: the next sign-in still asks for the second factor."""
from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _

from app.access import access
from app.auth import bp
from app.auth.forms import ForgotForm, ResetForm
from app.auth.guard import client_address, throttle
from app.auth.views import password_messages
from core import audit, mail
from core.db import session
from tenants import accounts, passwords
from tenants.accounts import PasswordRejected
from tenants.models import User


def _keys() -> list[str]:
    return [current_app.config["SECRET_KEY"], *current_app.config.get("SECRET_KEY_FALLBACKS", [])]


@bp.route("/password/forgot", methods=["GET", "POST"])
@access(public=True)
def forgot_password():
    form = ForgotForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        verdict = throttle().attempt([("reset_request", email), ("reset_address", client_address())])
        user = accounts.user_by_email(email)
        if verdict.allowed and user is not None and user.active:
            token = passwords.make_reset_token(user, current_app.config["SECRET_KEY"])
            link = url_for("auth.reset_password", token=token, _external=True)
            n = current_app.config["PASSWORD_RESET_MINUTES"]
            mail.send(user.email, _("Set a new Arbor password"),
                      _("Someone (hopefully you) asked to set a new password for %(email)s.\n\n"
                        "Open this link within %(n)d minutes; it works once:\n%(link)s\n\n"
                        "Your second factor is still needed at the next sign-in. If you did not ask for this, "
                        "ignore this message: your password stays as it is.", email=user.email, n=n, link=link))
            audit.record("user.password_reset_requested", actor="anonymous", obj=user)
        # The same answer whether or not the account exists, and whether or not this one was throttled.
        flash(_("If an account uses that address, we sent it a link to set a new password."), "ok")
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot.html", form=form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@access(public=True)
def reset_password(token: str):
    g.personal_data = True  # no-store: the page URL holds the token
    found = passwords.read_reset_token(token, _keys(), current_app.config["PASSWORD_RESET_MINUTES"] * 60)
    user = session.get(User, found[0]) if found else None
    if user is None or not passwords.reset_token_matches(user, found[1]):
        return render_template("auth/reset_invalid.html"), 400
    form = ResetForm()
    if form.validate_on_submit():
        try:
            accounts.reset_password(user, form.new.data)
        except PasswordRejected as e:
            for msg in password_messages(e.details):
                flash(msg, "error")
            return render_template("auth/reset.html", form=form, user=user), 422
        # The owner proved control of the mailbox: lift a lockout an attacker may have caused.
        throttle().reset("account", user.email)
        flash(_("Your password was changed. Sign in with it; your second factor is still needed."), "ok")
        return redirect(url_for("auth.login"))
    for errors in form.errors.values():
        for e in errors:
            flash(str(e), "error")
    return render_template("auth/reset.html", form=form, user=user)
