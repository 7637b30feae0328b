"""Sign-in, sign-out, language choice and the profile page."""
from flask import Blueprint

bp = Blueprint("auth", __name__)

from app.auth import views  # noqa: E402,F401
