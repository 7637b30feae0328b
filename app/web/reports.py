"""Report pages: the versions of a node's report in a campaign (with "generate now"), one version rendered as HTML
(totals, indicators, risk flags explained, children, completion, exclusions, hash, signature, downloads, charts),
its stored files, and the inspector general's signature (re-entering the second factor).

Routes name a node or report by id and load it through ``access`` (another county's report is a 404); files load
through their report. Writes go through :mod:`exports.reports` (which audits).
"""
from __future__ import annotations

import secrets

from flask import Response, flash, redirect, render_template, request, session as web_session, url_for
from flask_babel import format_decimal, format_percent, get_locale, gettext as _, lazy_gettext as _l
from markupsafe import Markup

from app.access import access, actor
from app.auth.guard import client_address, throttle
from app.auth.views import minutes, record_lockouts
from app.web import bp
from app.web.campaigns import load_campaign
from core.db import session
from core.errors import Conflict, Forbidden, Invalid, NotFound
from exports import reports as ops
from exports.models import REPORT_LEVELS, Report
from tenants import factors, policy, queries
from tenants.models import Node, User

SIGNATURE_SHORT = {"signed": _l("county report signed"), "awaiting": _l("county report not signed yet"),
                   "void": _l("county report signature void")}
REASON_LABELS = {"submitted": _l("generated at submission"), "on_demand": _l("generated on demand"),
                 "reissued": _l("re-issued after a change below"), "extended": _l("extended monitoring")}
SIGNATURE_LABELS = {"signed": _l("signed"), "void": _l("signature void: awaiting a new signature"),
                    "awaiting": _l("awaiting the inspector general's signature"), "not_required": ""}
CRITERION_LABELS = {
    "ethnicity": _l("Ethnicity"), "parents_education": _l("Parents' education"),
    "social_scholarship": _l("Social scholarship"), "single_parent": _l("Single-parent families"),
    "disability_sen": _l("Disabilities or special educational needs"),
    "residence_other_locality": _l("Living in another locality"), "institutionalised": _l("Institutionalised"),
    "relatives_care": _l("In the care of relatives"), "attended_kindergarten": _l("Kindergarten attendance"),
    "repeating": _l("Repeating the year")}
GROUP_LABELS = {
    "ethnicity.roma": _l("Roma pupils"), "ethnicity.hungarian": _l("Hungarian pupils"),
    "ethnicity.german": _l("German pupils"), "ethnicity.ukrainian": _l("Ukrainian pupils"),
    "ethnicity.turkish_tatar": _l("Turkish/Tatar pupils"),
    "parents_education.below_eight": _l("Neither parent with 8 grades"),
    "parents_education.eight_or_below": _l("Parents with at most 8 grades"),
    "social_scholarship": _l("Pupils with a social scholarship file"),
    "single_parent": _l("Pupils from single-parent families"),
    "disability_sen": _l("Pupils with disabilities or SEN"),
    "residence_other_locality": _l("Commuting pupils"), "institutionalised": _l("Institutionalised pupils"),
    "relatives_care": _l("Pupils in the care of relatives"),
    "attended_kindergarten.not_attended": _l("Pupils who did not attend kindergarten"),
    "repeating": _l("Pupils repeating the year")}
ITEM_LEVEL_LABELS = {"class": _l("class"), "building": _l("building"), "bench": _l("last two benches"),
                     "locality": _l("locality"), "unit": _l("unit")}
# One sentence per explanation code of a flagged item (forms.indicators_formulas).
CODE_SENTENCES = {
    "predominant": _l("More than half of the pupils here belong to the group, while in the reference population "
                      "they are at most half (predominantly composed)."),
    "score_threshold": _l("The alert score reached the risk threshold: the group's share here is well above its "
                          "share in the reference population."),
    "missing_data": _l("Data are missing, so the item scores as at risk until they are filled in."),
    "small_numbers": _l("Too few pupils to judge: the result is insufficient, not safe."),
    "no_pupils": _l("No pupils were recorded here."),
    "few_pupils": _l("Fewer pupils than the minimum the ruleset needs."),
    "few_in_group": _l("The group is (nearly) absent from the reference population."),
    "minority_language": _l("Taught in the group's mother tongue: not flagged on the ethnic criterion."),
}
OUTCOME_LABELS = {"risk": _l("risk"), "missing_data": _l("missing data"), "insufficient": _l("insufficient data"),
                  "ok": _l("no risk"), "exempt": _l("exempt")}
CHILDREN_LEVEL_LABELS = {"class": _l("Classes"), "unit": _l("School units"), "school": _l("Schools"),
                         "inspectorate": _l("Inspectorates")}
RISK_SHOWN = 25  # flagged items listed open; the rest fold under "show more"
FORMAT_LABELS = {"pdf": "PDF", "xlsx": "Excel (XLSX)", "csv": "CSV"}


def _pct(value) -> str:
    return "—" if value is None else format_percent(value, "#,##0.0%")


def _num(value, digits: int = 1) -> str:
    if value is None:
        return "—"
    return format_decimal(value, "#,##0." + "0" * digits) if isinstance(value, float) else format_decimal(value)


@bp.app_context_processor
def _report_helpers():
    return {"report_reason_labels": REASON_LABELS, "report_signature_labels": SIGNATURE_LABELS,
            "may_see_reports": _may_see_reports}


def _may_see_reports(node) -> bool:
    """Whether the campaign node page links to the node's reports."""
    return node.level in REPORT_LEVELS and policy.can(actor(), "reports.view", node)


def _campaign_of(report: Report):
    return load_campaign(report.campaign_id, actor())


def _reporting(node: Node) -> Node:
    if node.level not in REPORT_LEVELS:
        raise NotFound()
    return node


def _charts(data: dict) -> list[tuple[str, Markup]]:
    """The SVG charts of the report (exports.render.charts: risk by child, group shares per child), in the page's
    language. The SVG is built there with every text escaped."""
    from exports.render import charts
    lang = str(get_locale() or "ro").split("_")[0]
    return [(c["title"], Markup(c["svg"])) for c in charts.default_charts(data, lang)]


def _delivered(user, report: Report) -> None:
    if ops.withheld_from(user, report):
        raise Forbidden(_("This county report reaches the commission once the inspector general has signed it."))


def _group_label(group_id: str) -> str:
    return str(GROUP_LABELS.get(group_id, group_id))


def _explain(item: dict) -> list[str]:
    return [str(CODE_SENTENCES[c]) for c in item.get("codes") or [] if c in CODE_SENTENCES]


# --- versions and generate-now ---------------------------------------------------------------------------------

@bp.route("/campaigns/<int:campaign_id>/nodes/<int:node_id>/reports")
@access("reports.view", load=Node)
def node_reports(campaign_id: int, node: Node):
    user = actor()
    campaign = load_campaign(campaign_id, user)
    _reporting(node)
    rows = session.execute(ops.versions(campaign.id, node.id).limit(200)).scalars().all()
    states = {r.id: ops.signature_state(r) for r in rows}
    withheld = {r.id for r in rows if ops.withheld_from(user, r)}
    ancestors = session.execute(queries.visible_ancestors(node, user)).scalars().all()
    from_above = node.level == ops.SIGNED_LEVEL and ops.sees_from_above(user, node)
    return render_template("reports/versions.html", campaign=campaign, node=node, rows=rows, states=states,
                           withheld=withheld, ancestors=ancestors,
                           may_generate=policy.can(user, "reports.generate", node) and campaign.status != "draft"
                           and not from_above)


@bp.route("/campaigns/<int:campaign_id>/nodes/<int:node_id>/reports", methods=["POST"])
@access("reports.generate", load=Node)
def node_report_generate(campaign_id: int, node: Node):
    user = actor()
    campaign = load_campaign(campaign_id, user)
    try:
        job = ops.request_report(user, campaign, _reporting(node))
    except Conflict:
        flash(_("The campaign has not been launched yet."), "error")
        return redirect(url_for("web.node_reports", campaign_id=campaign.id, node_id=node.id), 303)
    flash(_("The report is being generated. This page shows its progress."), "ok")
    return redirect(url_for("web.job", job_id=job.id), 303)


# --- one version ---------------------------------------------------------------------------------------------

@bp.route("/reports/<int:report_id>")
@access("reports.view", load=Report)
def report(report: Report):
    user = actor()
    campaign = _campaign_of(report)
    _delivered(user, report)
    node = session.get(Node, report.node_id)
    data = report.data or {}
    sig = ops.signature(report)
    signer = session.get(User, sig.signer_id) if sig is not None else None
    risk = [{**item, "explanations": _explain(item)} for item in data.get("risk") or []]
    latest = ops.latest(report.campaign_id, report.node_id)
    county_signatures = _county_signatures(report, data) if report.level == "ministry" else {}
    ancestors = session.execute(queries.visible_ancestors(node, user)).scalars().all()
    return render_template(
        "reports/report.html", report=report, campaign=campaign, node=node, data=data, totals=data.get("totals") or {},
        completion=data.get("completion") or {}, risk=risk, children=data.get("children") or [],
        exclusions=data.get("exclusions") or [], files=ops.files_meta(report), sig=sig, signer=signer,
        sig_state=ops.signature_state(report), latest=latest, ancestors=ancestors, charts=_charts(data),
        may_sign=(report.level == ops.SIGNED_LEVEL and latest is not None and latest.id == report.id
                  and not report.provisional and policy.can(user, "reports.sign", node)),
        county_signatures=county_signatures, signature_short=SIGNATURE_SHORT,
        risk_total=max(int(data.get("risk_total") or 0), len(risk)), risk_shown=RISK_SHOWN,
        pct=_pct, num=_num, group_label=_group_label, criterion_labels=CRITERION_LABELS,
        item_level_labels=ITEM_LEVEL_LABELS, outcome_labels=OUTCOME_LABELS, format_labels=FORMAT_LABELS,
        children_title=CHILDREN_LEVEL_LABELS.get(completion_level(data), _l("Breakdown")))


def _county_signatures(report: Report, data: dict) -> dict[int, str]:
    """For the national report: whether each county's latest issued report is signed (what the commission waits
    for before the county counts as delivered)."""
    out = {}
    for child in data.get("children") or []:
        last = ops.latest(report.campaign_id, child.get("id"))
        if last is not None and not last.provisional:
            out[child["id"]] = ops.signature_state(last)
    return out


def completion_level(data: dict) -> str | None:
    return (data.get("completion") or {}).get("children_level")


@bp.route("/reports/<int:report_id>/files/<fmt>")
@access("reports.view", load=Report)
def report_download(report: Report, fmt: str):
    from exports import render
    if fmt not in render.FORMATS:
        raise NotFound()
    _delivered(actor(), report)
    f = ops.file_of(report, fmt)
    response = Response(f.content, content_type=render.CONTENT_TYPES[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{render.filename(report.data, fmt)}"'
    response.headers["X-Content-SHA256"] = f.sha256
    return response


# --- signature -------------------------------------------------------------------------------------------------

def _sign_attempt() -> str:
    if "sign_attempt" not in web_session:
        web_session["sign_attempt"] = secrets.token_urlsafe(24)
    return web_session["sign_attempt"]


def _sign_methods(user) -> list[str]:
    from app.auth.second_factor import methods_for
    return methods_for(user)


@bp.route("/reports/<int:report_id>/sign", methods=["GET", "POST"])
@access("reports.sign", load=Report)
def report_sign(report: Report):
    user = actor()
    campaign = _campaign_of(report)
    node = session.get(Node, report.node_id)
    methods = _sign_methods(user)
    method = request.values.get("method") if request.values.get("method") in methods else \
        (methods[0] if methods else None)
    status = 200
    if request.method == "POST":
        code = (request.form.get("code") or "").strip()
        verdict = throttle().attempt(throttle().code_scopes(user.id, client_address()))
        if not verdict.allowed:
            flash(_("Too many attempts. Try again in %(n)d minutes.", n=minutes(verdict.retry_after)), "error")
            status = 429
        elif not code or method is None:
            flash(_("Enter the code."), "error")
            status = 422
        else:
            try:
                ops.sign(user, report, code, method=method, attempt=_sign_attempt())
            except Invalid:
                record_lockouts(throttle().failed(verdict), user)
                flash(_("That code is wrong, expired or already used."), "error")
                status = 422
            except Conflict as e:
                flash(_("Not signed: %(why)s", why=_conflict_text(e)), "error")
                status = 409
            else:
                throttle().succeeded(verdict)
                web_session.pop("sign_attempt", None)
                flash(_("You signed version %(v)s of the report.", v=report.version), "ok")
                return redirect(url_for("web.report", report_id=report.id), 303)
    return render_template("reports/sign.html", report=report, campaign=campaign, node=node, methods=methods,
                           method=method, state=ops.signature_state(report),
                           destination=factors.masked(getattr(factors.factor(user, method), "destination", None))
                           if method in ("email", "sms") else None), status


def _conflict_text(e: Conflict) -> str:
    msg = e.message
    known = {"a newer version of this report exists: sign the latest one":
             _("a newer version of this report exists: sign the latest one"),
             "this version is already signed": _("this version is already signed"),
             "only the county report is signed": _("only the county report is signed"),
             "a provisional report cannot be signed: the county has not been submitted":
             _("a provisional report cannot be signed: the county has not been submitted")}
    return known.get(msg, msg)


@bp.route("/reports/<int:report_id>/sign/send", methods=["POST"])
@access("reports.sign", load=Report)
def report_sign_send(report: Report):
    """Send an e-mail/SMS code for the signature (for signers without an authenticator app)."""
    from app.auth.second_factor import send_code
    user = actor()
    channel = request.form.get("channel")
    f = factors.factor(user, channel) if channel in ("email", "sms") and channel in _sign_methods(user) else None
    if f is not None:
        send_code(user, channel, f.destination, ops.CODE_PURPOSE, _sign_attempt())
    return redirect(url_for("web.report_sign", report_id=report.id, method=channel), 303)

