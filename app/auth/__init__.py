"""Sign-in with a second factor, sign-out, password change and reset, the profile, language choice.

``require_recent_2fa(max_age_seconds)`` (from :mod:`app.auth.guard`) guards sensitive views elsewhere.
"""
from flask import Blueprint

bp = Blueprint("auth", __name__, cli_group=None)


@bp.record_once
def _setup(state) -> None:
    """Settings with their environment variables, the throttle store and the SMS gateway of this app."""
    from app import config as cfg
    from tenants import sms
    from tenants.throttle import Throttle, store_from_url

    app = state.app
    prod = app.config["ENV"] == "production"
    c = app.config
    c.setdefault("PASSWORD_RESET_MINUTES", cfg.env_int("ARBOR_PASSWORD_RESET_MINUTES", 60))
    c.setdefault("SMS_GATEWAY_URL", cfg.env_str("SMS_GATEWAY_URL"))
    c.setdefault("SMS_GATEWAY_TOKEN", cfg.env_str("SMS_GATEWAY_TOKEN"))
    # "http" when a provider URL is set; the outbox folder in development; none (no SMS codes) otherwise.
    c.setdefault("SMS_GATEWAY", cfg.env_str("SMS_GATEWAY", "http" if c["SMS_GATEWAY_URL"] else
                                            (None if prod else "outbox")))
    c.setdefault("SMS_OUTBOX", cfg.env_str("ARBOR_SMS_OUTBOX", f"{c['MAIL_OUTBOX']}/sms"))
    c.setdefault("THROTTLE_RULES", {})
    app.extensions["arbor_throttle"] = Throttle(c.get("THROTTLE_STORE") or store_from_url(c.get("REDIS_URL")),
                                                c["THROTTLE_RULES"])
    app.extensions["arbor_sms"] = sms.make_gateway(c["SMS_GATEWAY"], url=c["SMS_GATEWAY_URL"],
                                                   token=c["SMS_GATEWAY_TOKEN"], outbox=c["SMS_OUTBOX"])


from app.auth import cli, guard, reset, second_factor, views  # noqa: E402,F401
from app.auth.guard import recent_2fa_ok, require_recent_2fa  # noqa: E402,F401
