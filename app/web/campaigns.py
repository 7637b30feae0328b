"""Campaign pages: the list, create (draft) → launch → close → archive for the commission, and progress at every
level — campaign × node: the children's counts by state, filters, the actions the viewer may take on each row, the
node's own state, actions and history. Writes go through :mod:`workflows` (which audits).

Routes name a node or class by id and load it through ``access``; the campaign (national: every holder of
``campaigns.view`` may read a launched one) is loaded inside the view by :func:`load_campaign`.
"""
from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms import DateField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from app.access import access, actor
from app.pagination import paginate
from app.web import bp
from app.web.campaign_messages import localized, refusal_text
from core.db import session
from core.errors import Conflict, Forbidden, Invalid, NotFound
from exports import risk_lists
from tenants import policy, queries
from tenants.models import Node, SchoolClass, User
from workflows import campaigns as ops, queries as wq, state as sm
from workflows.models import Campaign, CampaignState, WorkflowEvent

STATE_LABELS = {"not_started": _l("not started"), "in_progress": _l("in progress"), "submitted": _l("submitted")}
STATUS_LABELS = {"draft": _l("draft"), "running": _l("running"), "closed": _l("closed"), "archived": _l("archived")}
EXTENDED_LABELS = {"requested": _l("extended section requested"), "submitted": _l("extended section submitted")}
ACTION_LABELS = {"lock": _l("Lock"), "unlock": _l("Unlock"), "submit": _l("Submit"), "reopen": _l("Reopen"),
                 "exclude": _l("Exclude"), "include": _l("Include again"),
                 "request-extended": _l("Request the extended section"),
                 "submit-extended": _l("Submit the extended section")}
EVENT_LABELS = {**ACTION_LABELS, "save": _l("Saved data"), "class-added": _l("Class added to the campaign")}
REASON_REQUIRED = sm.REASON_REQUIRED
# ?show= filters of the children list: (label, filters for workflows.queries.children)
FILTERS = {"not_started": (_l("not started"), {"state": "not_started", "excluded": False}),
           "in_progress": (_l("in progress"), {"state": "in_progress", "excluded": False}),
           "submitted": (_l("submitted"), {"state": "submitted", "excluded": False}),
           "locked": (_l("locked"), {"locked": True}),
           "excluded": (_l("excluded"), {"excluded": True}),
           # from the children's roll-up snapshots (exports.risk_lists): not on a unit's page (its rows are classes)
           "at_risk": (_l("at risk"), {"risk": "at_risk"}),
           "missing_data": (_l("missing data"), {"risk": "missing_data"})}
RISK_FILTERS = ("at_risk", "missing_data")
CHILD_TITLES = {"ministry": _l("Inspectorates"), "inspectorate": _l("Schools"), "school": _l("School units"),
                "unit": _l("Classes")}


def load_campaign(campaign_id: int, user) -> Campaign:
    """The campaign, or 404; a draft is visible only to those who manage campaigns."""
    c = session.get(Campaign, campaign_id)
    if c is None or (c.status == "draft" and not policy.can(user, "campaigns.manage")):
        raise NotFound()
    return c


def _entry_nodes(user) -> list[Node]:
    """Where the user's view of a campaign starts: the top of each subtree where they may see campaigns."""
    roots = session.execute(queries.visible_roots(user)).scalars()
    return [n for n in roots if policy.can(user, "campaigns.view", n)]


def _safe_back(default: str) -> str:
    target = request.form.get("next") or ""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def node_url(campaign: Campaign, state: CampaignState) -> str:
    """The page of a state row: a node's progress page, or a class's table."""
    if state.level == "class":
        return url_for("web.class_table", campaign_id=campaign.id, class_id=state.class_id)
    return url_for("web.campaign_node", campaign_id=campaign.id, node_id=state.node_id)


def row_name(state: CampaignState) -> str:
    return state.school_class.name if state.level == "class" else state.node.name


@bp.app_context_processor
def _campaign_labels():
    return {"campaign_state_labels": STATE_LABELS, "campaign_status_labels": STATUS_LABELS,
            "campaign_action_labels": ACTION_LABELS, "campaign_extended_labels": EXTENDED_LABELS,
            "campaign_reason_required": REASON_REQUIRED, "campaign_row_url": node_url,
            "campaign_row_name": row_name}


# --- list and create -----------------------------------------------------------------------------------------

@bp.route("/campaigns")
@access("campaigns.view")
def campaigns():
    user = actor()
    may_manage = policy.can(user, "campaigns.manage")
    q = wq.campaigns()
    if not may_manage:
        q = q.where(Campaign.status != "draft")
    page = paginate(q, request.args.get("page"), current_app.config["PAGE_SIZE"])
    return render_template("campaigns/list.html", page=page, entries=_entry_nodes(user), may_manage=may_manage)


class CampaignForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=160)])
    school_year = SelectField(_l("School year"), coerce=int, validators=[DataRequired()])
    opens_on = DateField(_l("Opens on (optional)"), validators=[Optional()])
    deadline = DateField(_l("Deadline"), validators=[DataRequired()])


@bp.route("/campaigns/new", methods=["GET", "POST"])
@access("campaigns.manage")
def campaign_new():
    user = actor()
    form = CampaignForm()
    years = session.execute(queries.school_years()).scalars().all()
    form.school_year.choices = [(y.id, y.name) for y in years]
    if request.method == "GET" and years:
        form.school_year.data = next((y.id for y in years if y.current), years[0].id)
    status = 200
    if form.validate_on_submit():
        year = next(y for y in years if y.id == form.school_year.data)
        try:
            c = ops.create_campaign(user, name=form.name.data, school_year=year, deadline=form.deadline.data,
                                    opens_on=form.opens_on.data)
        except Forbidden as e:
            raise localized(e) from None
        except Invalid as e:
            status = 422
            if (e.details or {}).get("deadline"):
                form.deadline.errors = [_("The campaign must open before its deadline.")]
            else:
                form.name.errors = [_("The campaign could not be created: %(why)s", why=refusal_text(e))]
        else:
            flash(_("The campaign “%(name)s” is saved as a draft. Launch it when it is ready.", name=c.name), "ok")
            return redirect(url_for("web.campaign_node", campaign_id=c.id, node_id=c.root_id), 303)
    elif request.method == "POST":
        status = 422
    return render_template("campaigns/new.html", form=form), status


@bp.route("/nodes/<int:node_id>/campaigns")
@access("campaigns.view", load=Node)
def node_campaigns(node: Node):
    """The campaigns a node takes part in (from the tree browser)."""
    user = actor()
    q = wq.campaigns()
    if node.level == "ministry":
        if not policy.can(user, "campaigns.manage"):
            q = q.where(Campaign.status != "draft")
    else:
        q = q.where(Campaign.id.in_(select(CampaignState.campaign_id).where(
            CampaignState.node_id == node.id, CampaignState.class_id.is_(None))))
    page = paginate(q, request.args.get("page"), current_app.config["PAGE_SIZE"])
    return render_template("campaigns/list.html", page=page, entries=[node], may_manage=False, node=node)


# --- progress: campaign × node --------------------------------------------------------------------------------

def _children_page(campaign: Campaign, parent: CampaignState | None, show: str | None):
    filters = dict(FILTERS[show][1]) if show in FILTERS else {}
    kind = filters.pop("risk", None)
    q = wq.children(campaign, parent, **filters).options(selectinload(CampaignState.node),
                                                         selectinload(CampaignState.school_class))
    if kind is not None:
        q = risk_lists.where_risk(q, kind)
    return paginate(q, request.args.get("page"), current_app.config["PAGE_SIZE"])


def _history(state: CampaignState, limit: int = 50):
    events = session.execute(select(WorkflowEvent).where(WorkflowEvent.state_id == state.id)
                             .order_by(WorkflowEvent.id.desc()).limit(limit)).scalars().all()
    ids = {e.user_id for e in events if e.user_id}
    users = {u.id: u for u in session.execute(select(User).where(User.id.in_(ids))).scalars()} if ids else {}
    return [(e, users.get(e.user_id)) for e in events]


@bp.route("/campaigns/<int:campaign_id>/nodes/<int:node_id>")
@access("campaigns.view", load=Node)
def campaign_node(campaign_id: int, node: Node):
    user = actor()
    campaign = load_campaign(campaign_id, user)
    filters = FILTERS if node.level != "unit" else {k: v for k, v in FILTERS.items() if k not in RISK_FILTERS}
    show = request.args.get("show") if request.args.get("show") in filters else None
    ancestors = session.execute(queries.visible_ancestors(node, user)).scalars().all()
    ctx = {"campaign": campaign, "node": node, "ancestors": ancestors, "show": show, "filters": filters,
           "child_title": CHILD_TITLES.get(node.level), "event_labels": EVENT_LABELS}
    if node.level == "ministry":
        if node.id != campaign.root_id:
            raise NotFound()
        ctx["may_manage"] = policy.can(user, "campaigns.manage", node)
        if campaign.status == "draft":
            return render_template("campaigns/node.html", me_state=None, page=None, **ctx)
        parent = None
        ctx.update(me_state=None, counts=wq.children_counts(campaign, [None])[None], my_actions=[], history=[])
    else:
        if campaign.status == "draft":
            raise NotFound()
        parent = sm.state_for(campaign, node)
        ctx.update(me_state=parent, counts=wq.children_counts(campaign, [parent])[parent.id],
                   my_actions=sm.available_actions(user, campaign, parent), history=_history(parent),
                   last_activity=wq.last_activity(campaign, node), may_manage=False,
                   me_risk=risk_lists.risk_by_node(campaign, [node.id]).get(node.id))
    page = _children_page(campaign, parent, show)
    rows = [r for r in page.items if r.level != "class"]
    child_counts = wq.children_counts(campaign, rows) if rows else {}
    row_actions = {r.id: sm.available_actions(user, campaign, r) for r in page.items}
    risks = risk_lists.risk_by_node(campaign, [r.node_id for r in rows])
    return render_template("campaigns/node.html", page=page, child_counts=child_counts, row_actions=row_actions,
                           risks=risks, **ctx)


# --- writes ---------------------------------------------------------------------------------------------------

def _transition(campaign: Campaign, target, back: str):
    """Apply the posted action; a refusal by the state (409/422) comes back as a message on the page, a role
    that may not act gets 403."""
    action = request.form.get("action", "")
    if action not in sm.ACTIONS:
        raise Invalid(_("Unknown action."), details={"action": action})
    reason = request.form.get("reason", "").strip()[:2000] or None
    try:
        sm.transition(actor(), campaign, target, action, reason)
    except Forbidden as e:
        raise localized(e) from None
    except Invalid as e:
        if (e.details or {}).get("reason"):
            flash(_("A reason is required to %(action)s.", action=str(ACTION_LABELS[action]).lower()), "error")
        elif (e.details or {}).get("errors"):
            flash(_("Not submitted: the data still has %(n)s problem(s). Open the form to see them.",
                    n=len(e.details["errors"])), "error")
        else:
            flash(_("Not done: %(why)s", why=refusal_text(e)), "error")
    except Conflict as e:
        flash(_("Not possible now: %(why)s", why=refusal_text(e)), "error")
    else:
        flash(_("Done: %(action)s.", action=ACTION_LABELS[action]), "ok")
    return redirect(_safe_back(back), 303)


@bp.route("/campaigns/<int:campaign_id>/nodes/<int:node_id>/actions", methods=["POST"])
@access("campaigns.view", load=Node)
def campaign_node_action(campaign_id: int, node: Node):
    campaign = load_campaign(campaign_id, actor())
    return _transition(campaign, node, url_for("web.campaign_node", campaign_id=campaign.id, node_id=node.id))


@bp.route("/campaigns/<int:campaign_id>/classes/<int:class_id>/actions", methods=["POST"])
@access("campaigns.view", load=SchoolClass, arg="class_id", as_="school_class")
def campaign_class_action(campaign_id: int, school_class: SchoolClass):
    campaign = load_campaign(campaign_id, actor())
    return _transition(campaign, school_class,
                       url_for("web.class_table", campaign_id=campaign.id, class_id=school_class.id))


@bp.route("/campaigns/<int:campaign_id>/nodes/<int:node_id>/status", methods=["POST"])
@access("campaigns.manage", load=Node)
def campaign_status(campaign_id: int, node: Node):
    """Launch (with the invitation message), close or archive; posted from the campaign's root page."""
    user = actor()
    campaign = load_campaign(campaign_id, user)
    if node.id != campaign.root_id:
        raise NotFound()
    op = request.form.get("op", "")
    back = url_for("web.campaign_node", campaign_id=campaign.id, node_id=node.id)
    try:
        if op == "launch":
            counts = ops.launch_campaign(user, campaign, request.form.get("message", "")[:10000])
            flash(_("Launched: %(n)s inspectorates, %(s)s schools, %(u)s units and %(c)s classes take part.",
                    n=counts.get("inspectorate", 0), s=counts.get("school", 0), u=counts.get("unit", 0),
                    c=counts.get("class", 0)), "ok")
        elif op == "close":
            ops.close_campaign(user, campaign)
            flash(_("The campaign is closed: every form is now read-only."), "ok")
        elif op == "archive":
            ops.archive_campaign(user, campaign)
            flash(_("The campaign is archived."), "ok")
        else:
            raise NotFound()
    except Forbidden as e:
        raise localized(e) from None
    except Invalid as e:
        if (e.details or {}).get("message"):
            flash(_("The launch needs an invitation message to the inspectorates."), "error")
        else:
            flash(_("Not done: %(why)s", why=refusal_text(e)), "error")
    except Conflict as e:
        flash(_("Not possible now: %(why)s", why=refusal_text(e)), "error")
    return redirect(back, 303)


__all__ = ["load_campaign", "node_url"]

import app.web.risk  # noqa: E402,F401  (the "units at risk" pages; they import load_campaign from here)
