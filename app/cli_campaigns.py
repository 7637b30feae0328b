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


def _campaign(campaign_id: int):
    from core.db import session
    from workflows.models import Campaign
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise click.ClickException(f"no campaign {campaign_id}")
    return campaign


@reports_cli.command("check")
@click.argument("campaign_id", type=int)
@click.option("--limit", default=50, show_default=True, help="Differences to print at most.")
def reports_check(campaign_id, limit):
    """Compare every roll-up snapshot of a campaign with the full recomputation from the class tables; exit 1 on
    any difference."""
    from sqlalchemy import func, select

    from core.db import session
    from exports import rollup
    from exports.models import Snapshot

    campaign = _campaign(campaign_id)
    diffs = rollup.check(campaign)
    count = session.execute(select(func.count()).select_from(Snapshot).where(
        Snapshot.campaign_id == campaign.id)).scalar_one()
    if not diffs:
        click.echo(f"campaign {campaign.id}: {count} snapshots, identical to the recomputation")
        return
    for d in diffs[:limit]:
        click.echo(f"{d['level']} {d['node_id']} {d['field']}: snapshot {d['snapshot']!r}, "
                   f"recomputed {d['recomputed']!r}")
    nodes = len({d["node_id"] for d in diffs})
    raise click.ClickException(f"campaign {campaign.id}: {len(diffs)} differences in {nodes} of {count} snapshots "
                               f"(flask reports rebuild {campaign.id} rewrites them from the class tables)")


@reports_cli.command("rebuild")
@click.argument("campaign_id", type=int)
def reports_rebuild(campaign_id):
    """Rewrite every roll-up snapshot of a campaign from the class tables (submitted nodes; no report is issued)."""
    from core.db import session
    from exports import rollup

    campaign = _campaign(campaign_id)
    counts = rollup.rebuild(campaign)
    session.commit()
    click.echo(f"campaign {campaign.id}: rebuilt " + ", ".join(f"{n} {level}" for level, n in counts.items()))


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
