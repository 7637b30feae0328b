"""``flask reports …`` and ``flask links …``: commands of the report and link work (cron-friendly)."""
from __future__ import annotations

from flask import Flask
from flask.cli import AppGroup

reports_cli = AppGroup("reports", help="Roll-up snapshots and report versions.")
links_cli = AppGroup("links", help="Form-teacher links.")


def init_app(app: Flask) -> None:
    app.cli.add_command(reports_cli)
    app.cli.add_command(links_cli)
