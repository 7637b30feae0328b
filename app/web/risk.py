"""Risk in the campaign pages (issue 6): the labels of the risk flags, and the inspectorate's "units at risk" list
of a campaign — every unit of the county whose roll-up snapshot is at risk or lacks data, with its flagged
criteria, the extended section's state and the request for extended monitoring (posted to the campaign's action
route, so it goes through :func:`workflows.state.transition`). On the ministry node the same page counts the
flagged units per county, with links to each county's list.
"""
from __future__ import annotations

from flask import current_app, render_template, request
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy.orm import selectinload

from app.access import access, actor
from app.pagination import paginate
from app.web import bp
from app.web.campaigns import load_campaign
from core.db import session
from core.errors import NotFound
from exports import risk_lists as rl
from tenants import queries
from tenants.models import Node
from workflows import state as sm
from workflows.models import CampaignState

# Criteria of the segregation ruleset (forms/rulesets/segregation-v1.json), worded as in the report files
# (exports/render/labels.py: the same msgids, one translation), and the levels they are measured at.
CRITERION_LABELS = {
    "ethnicity": _l("Ethnicity"),
    "parents_education": _l("Parents' education"),
    "social_scholarship": _l("Social scholarship"),
    "single_parent": _l("Single-parent families"),
    "disability_sen": _l("Disabilities and SEN"),
    "residence_other_locality": _l("Commuting pupils"),
    "institutionalised": _l("Institutional or foster care"),
    "relatives_care": _l("Care by relatives"),
    "attended_kindergarten": _l("Kindergarten attendance"),
    "repeating": _l("Repeating the year"),
}
RISK_LEVEL_LABELS = {"class": _l("classes"), "building": _l("buildings"), "bench": _l("last two benches"),
                     "locality": _l("locality")}
RISK_KIND_LABELS = {"at_risk": _l("at risk"), "missing_data": _l("missing data")}
EXTENDED_STATE_LABELS = {"none": _l("not requested"), "requested": _l("requested"), "submitted": _l("submitted")}
RISK_LEVELS = ("inspectorate", "ministry")  # the nodes that have a "units at risk" page


def risk_label(code: str) -> str:
    """``ethnicity.class`` → "Ethnicity — classes" (an unknown code is shown as it is)."""
    criterion, _sep, level = str(code).partition(".")
    if criterion not in CRITERION_LABELS:
        return str(code)
    if level not in RISK_LEVEL_LABELS:
        return str(CRITERION_LABELS[criterion])
    return _("%(criterion)s — %(level)s", criterion=CRITERION_LABELS[criterion], level=RISK_LEVEL_LABELS[level])


@bp.app_context_processor
def _risk_labels():
    return {"risk_label": risk_label, "risk_kind_labels": RISK_KIND_LABELS, "risk_levels": RISK_LEVELS}


def _arg(name: str, allowed) -> str | None:
    value = request.args.get(name)
    return value if value in allowed else None


@bp.route("/campaigns/<int:campaign_id>/nodes/<int:node_id>/risk")
@access("campaigns.view", load=Node)
def campaign_risk(campaign_id: int, node: Node):
    """Units at risk of a county (an inspectorate node), or the per-county counts (the campaign's ministry node)."""
    user = actor()
    campaign = load_campaign(campaign_id, user)
    if campaign.status == "draft" or node.level not in RISK_LEVELS:
        raise NotFound()
    ancestors = session.execute(queries.visible_ancestors(node, user)).scalars().all()
    ctx = {"campaign": campaign, "node": node, "ancestors": ancestors}
    if node.level == "ministry":
        if node.id != campaign.root_id:
            raise NotFound()
        return render_template("campaigns/risk_counties.html", counties=rl.county_counts(campaign), **ctx)
    show, criterion = _arg("show", rl.KINDS), _arg("criterion", CRITERION_LABELS)
    extended = _arg("extended", rl.EXTENDED)
    q = rl.county_units(campaign, node, show, criterion, extended).options(selectinload(CampaignState.node))
    page = paginate(q, request.args.get("page"), current_app.config["PAGE_SIZE"])
    risks = rl.risk_by_node(campaign, [r.node_id for r in page.items])
    # The extended section is for a unit at risk (INDICATORS.md); missing data alone calls for a reopen instead.
    may_request = {r.id: risks[r.node_id].at_risk and "request-extended" in sm.available_actions(user, campaign, r)
                   for r in page.items}
    return render_template(
        "campaigns/risk_units.html", page=page, show=show, criterion=criterion, extended=extended, risks=risks,
        schools=queries.node_names({r.school_id for r in page.items}), may_request=may_request,
        summary=rl.county_summary(campaign, node), criterion_labels=CRITERION_LABELS,
        extended_labels=EXTENDED_STATE_LABELS, **ctx)


__all__ = ["CRITERION_LABELS", "risk_label"]
