"""``flask reports …`` and ``flask links …``: commands of the report and link work (cron-friendly)."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

reports_cli = AppGroup("reports", help="Roll-up snapshots and report versions.")
links_cli = AppGroup("links", help="Form-teacher links.")


def init_app(app: Flask) -> None:
    app.cli.add_command(reports_cli)
    app.cli.add_command(links_cli)


@links_cli.command("remind")
@click.option("--base-url", envvar="ARBOR_BASE_URL", required=True,
              help="The address teachers open, e.g. https://arbor.example.ro (or set ARBOR_BASE_URL)")
def links_remind(base_url):
    """Queue the daily reminder of unopened links that expire within three days (each is reminded once)."""
    from sqlalchemy import text

    from core.db import session
    from exports import jobs
    from exports.models import Job

    if not base_url.startswith(("http://", "https://")):
        raise click.ClickException("--base-url must start with http:// or https://")
    root = session.execute(text("SELECT id FROM nodes WHERE parent_id IS NULL ORDER BY id LIMIT 1")).scalar()
    if root is None:
        raise click.ClickException("there is no tree yet")
    job = jobs.enqueue("links.remind", node_id=root, base_url=base_url.rstrip("/"))
    job_id = job.id
    session.commit()
    job = session.get(Job, job_id, populate_existing=True)
    click.echo(f"job {job_id} (links.remind) is {job.status}"
               + (f": {job.result['reminded']} reminded" if job.status == "done" and job.result else ""))
