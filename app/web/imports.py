"""Network and structure import pages (upload → preview → confirm)."""
from flask import render_template

from app.access import access
from app.web import bp


@bp.route("/imports")
@access()
def imports():
    return render_template("web/imports.html")
