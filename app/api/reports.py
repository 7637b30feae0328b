"""Report endpoints of API v1: generate a version (a job), list a node's versions, read one as JSON, download its
files, and the inspector general's signature. Thin adapters over :mod:`exports.reports`; documented in
:mod:`app.api.openapi`.

The node or report in the URL loads through the caller's subtree (``@access(load=…)``): another county's report,
file or signature is a 404. A file loads through its report, never by an id of its own.
"""
from __future__ import annotations

from flask import Response, jsonify, request

from app.access import access, actor
from app.api import bp
from app.api.campaigns import _body, _campaign
from app.api.views import _int_arg
from app.auth.guard import client_address, throttle
from app.auth.views import record_lockouts
from core.db import session
from core.errors import Invalid, NotFound
from exports import reports as ops
from exports.models import REPORT_LEVELS, Report
from tenants.models import Node


def report_summary(r: Report) -> dict:
    return {"id": r.id, "campaign_id": r.campaign_id, "node_id": r.node_id, "level": r.level, "version": r.version,
            "reason": r.reason, "provisional": r.provisional, "ruleset": {"key": r.ruleset_key,
                                                                         "version": r.ruleset_version},
            "sha256": r.sha256, "created_at": ops._iso(r.created_at), "signature_state": ops.signature_state(r)}


def report_json(r: Report) -> dict:
    """The report's data (totals, indicators, children, exclusions …) with its version, hash, files and signature."""
    return {**report_summary(r), "latest": ops.is_latest(r), "files": ops.files_meta(r),
            "signature": ops.signature_json(ops.signature(r)), "data": r.data}


def _reporting_node(node: Node) -> Node:
    if node.level not in REPORT_LEVELS:
        raise NotFound("no reports at this level")
    return node


@bp.route("/campaigns/<int:campaign_id>/nodes/<int:node_id>/reports", methods=["POST"])
@access("reports.generate", load=Node)
def generate_report(campaign_id: int, node: Node):
    campaign = _campaign(campaign_id)
    job = ops.request_report(actor(), campaign, _reporting_node(node))
    # 202: queued; it runs after this request commits (in-process: before the response is sent).
    return jsonify({"job_id": job.id, "status": job.status}), 202


@bp.route("/campaigns/<int:campaign_id>/nodes/<int:node_id>/reports")
@access("reports.view", load=Node)
def list_reports(campaign_id: int, node: Node):
    campaign = _campaign(campaign_id)
    _reporting_node(node)
    limit = min(_int_arg("limit", 100), 500)
    rows = session.execute(ops.versions(campaign.id, node.id).limit(limit)).scalars().all()
    user = actor()
    items = [{**report_summary(r), "withheld": ops.withheld_from(user, r)} for r in rows]
    return jsonify({"campaign_id": campaign.id, "node_id": node.id, "items": items})


@bp.route("/reports/<int:report_id>")
@access("reports.view", load=Report)
def get_report(report: Report):
    ops.check_delivered(actor(), report)
    return jsonify(report_json(report))


@bp.route("/reports/<int:report_id>/download")
@access("reports.view", load=Report)
def download_report(report: Report):
    from exports import render
    fmt = request.args.get("format", "pdf")
    if fmt not in render.FORMATS:
        raise Invalid(f"format must be one of {', '.join(render.FORMATS)}", {"format": "unknown format"})
    ops.check_delivered(actor(), report)
    f = ops.file_of(report, fmt)
    response = Response(f.content, content_type=render.CONTENT_TYPES[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{render.filename(report.data, fmt)}"'
    response.headers["X-Content-SHA256"] = f.sha256
    response.headers["ETag"] = f'"{f.sha256}"'
    return response


@bp.route("/reports/<int:report_id>/sign", methods=["POST"])
@access("reports.sign", load=Report)
def sign_report(report: Report):
    """The inspector general re-enters the second factor (``otp``: an authenticator or recovery code)."""
    data = _body()
    code, method = data.get("otp"), data.get("method", "totp")
    if not isinstance(code, str) or not code.strip():
        raise Invalid("otp is required: a code of your second factor", {"otp": "required"})
    if method not in ("totp", "recovery"):
        raise Invalid("method must be totp or recovery", {"method": "unknown method"})
    user = actor()
    verdict = throttle().attempt(throttle().code_scopes(user.id, client_address()))
    if not verdict.allowed:
        return jsonify({"error": {"code": "too_many_attempts", "details": {"retry_after": verdict.retry_after},
                                  "message": "too many attempts; try again later"}}), 429
    try:
        sig = ops.sign(user, report, code, method=method)
    except Invalid:
        record_lockouts(throttle().failed(verdict), user)
        raise
    throttle().succeeded(verdict)
    return jsonify({"report_id": report.id, "signature": ops.signature_json(sig)}), 201

