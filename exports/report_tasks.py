"""Background tasks of the report work: one report version (data, hash, every format) per job, on ``exports``."""
from __future__ import annotations

from core.db import session
from core.errors import NotFound
from exports import reports
from exports.jobs import task
from tenants.models import Node, User


@task(reports.TASK, queue="exports")
def generate_report(job, progress, *, campaign_id: int, reason: str = "on_demand", lang: str = "ro") -> dict:
    """Write the next version of the report of the job's node. Its rows commit with the job's ``done``: a job
    killed part-way leaves no report behind and may simply be retried."""
    from workflows.models import Campaign
    campaign = session.get(Campaign, campaign_id)
    node_id = job.node_id
    node = session.get(Node, node_id)
    if campaign is None or node is None:
        raise NotFound("the campaign or the node no longer exists")
    actor = session.get(User, job.user_id) if job.user_id else None
    before = reports.latest_version(campaign_id, node_id)
    report = reports.generate(campaign, node, reason=reason, actor=actor, progress=progress, lang=lang)
    unchanged = report.version == before
    if not unchanged:
        progress(100, "done")
    return {"report_id": report.id, "version": report.version, "campaign_id": campaign_id, "node_id": node_id,
            "unchanged": unchanged}
