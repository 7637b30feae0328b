"""Server-rendered pages. Views are thin: they load through ``access``, call operations and render."""
from flask import Blueprint

bp = Blueprint("web", __name__)

from app.web import campaign_entry, campaigns, imports, invitations, views  # noqa: E402,F401
from app.web import structure  # noqa: E402,F401
from app.web import nomenclatures  # noqa: E402,F401
from app.web import link_fill, links, reports  # noqa: E402,F401
