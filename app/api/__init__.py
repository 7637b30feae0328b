"""The versioned JSON API under /api/v1: bearer tokens or the session cookie (with a CSRF header).

A request that sends ``Authorization`` is judged by that header alone: a bad, revoked or expired token is a 401
even if a session cookie rides along. A read-only token may only read (403 on writes). A browser using its session
cookie must send ``X-CSRFToken`` on unsafe methods, since the cookie travels with any cross-site request.
"""
from flask import Blueprint, current_app, g, request

from app.extensions import csrf
from core.errors import Forbidden

bp = Blueprint("api", __name__)
csrf.exempt(bp)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfFailed(Forbidden):
    """A cookie-authenticated write without a valid ``X-CSRFToken`` header."""
    code = "csrf_failed"


@bp.before_request
def _authenticate():
    from flask_login import current_user
    from flask_wtf.csrf import validate_csrf
    from wtforms import ValidationError

    from app.access import Unauthenticated
    from tenants.operations import user_for_token

    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, raw = header.partition(" ")
        found = user_for_token(raw.strip()) if scheme.lower() == "bearer" else None
        if found is None:
            g.api_auth_error = "invalid_token"
            raise Unauthenticated()
        g.api_user, g.api_token = found
        if request.method not in SAFE_METHODS and "write" not in g.api_token.scope_list:
            raise Forbidden("this token is read-only")
    elif (current_user.is_authenticated and request.method not in SAFE_METHODS
          and current_app.config.get("WTF_CSRF_ENABLED", True)):
        try:
            validate_csrf(request.headers.get("X-CSRFToken"))
        except ValidationError as e:
            raise CsrfFailed(f"CSRF check failed: {e}") from None


@bp.after_request
def _challenge(response):
    # RFC 6750: a 401 says how to authenticate, and whether the token sent was the problem.
    if response.status_code == 401:
        error = g.get("api_auth_error")
        response.headers["WWW-Authenticate"] = 'Bearer realm="arbor"' + (f', error="{error}"' if error else "")
    return response


from app.api import views  # noqa: E402,F401
from app.api import campaigns  # noqa: E402,F401
from app.api import links, reports  # noqa: E402,F401
