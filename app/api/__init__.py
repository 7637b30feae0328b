"""The versioned JSON API under /api/v1: bearer tokens or the session cookie (with a CSRF header)."""
from flask import Blueprint, g, request

from app.extensions import csrf

bp = Blueprint("api", __name__)
csrf.exempt(bp)


@bp.before_request
def _authenticate():
    from core.errors import DomainError, Forbidden
    from flask_login import current_user
    from flask_wtf.csrf import validate_csrf
    from wtforms import ValidationError

    from tenants.operations import user_for_token

    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, raw = header.partition(" ")
        found = user_for_token(raw.strip()) if scheme.lower() == "bearer" else None
        if found is None:
            from app.access import Unauthenticated
            raise Unauthenticated()
        g.api_user, g.api_token = found
        if request.method not in ("GET", "HEAD", "OPTIONS") and "write" not in g.api_token.scope_list:
            raise Forbidden("this token is read-only")
    elif current_user.is_authenticated and request.method not in ("GET", "HEAD", "OPTIONS"):
        # A browser calling the API with its cookie must prove the page is ours.
        try:
            validate_csrf(request.headers.get("X-CSRFToken"))
        except ValidationError as e:
            raise DomainError(f"CSRF check failed: {e}") from None


from app.api import views  # noqa: E402,F401
