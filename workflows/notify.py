"""E-mails about campaigns and transitions: to the members of the node above or below with the role concerned.

Messages go through :func:`core.mail.send`, which dispatches only after the transaction commits."""
from __future__ import annotations

from sqlalchemy import select

from core import mail
from core.db import session
from tenants.models import Membership, User

# The roles that hear about what happens to a node of each level (its own people).
OWN_ROLES = {"ministry": ("commission",), "inspectorate": ("isg", "inspector"), "school": ("director",),
             "unit": ("unit_responsible",)}
_VERB = {"lock": "locked", "unlock": "unlocked", "submit": "submitted", "reopen": "reopened",
         "exclude": "excluded from collection", "include": "included again in collection",
         "request-extended": "asked to fill the extended monitoring section",
         "submit-extended": "submitted the extended monitoring section"}


def members(node_ids, roles) -> list[User]:
    """Active users holding one of ``roles`` directly on one of ``node_ids``."""
    node_ids = list(node_ids)
    if not node_ids:
        return []
    q = (select(User).join(Membership, Membership.user_id == User.id)
         .where(Membership.node_id.in_(node_ids), Membership.role.in_(tuple(roles)), User.active.is_(True))
         .distinct().order_by(User.id))
    return list(session.execute(q).scalars())


def _send(users, subject: str, body: str, node_id: int) -> int:
    for u in users:
        mail.send(u.email, subject, body, node_id=node_id)
    return len(users)


def transition(campaign, chain, action: str, actor, reason: str | None) -> int:
    """Tell the people concerned: a submission goes up to the level above, every other action down to the
    node's own people (a class has no account holders: its unit's responsible hears instead)."""
    me = chain.me
    what = me.school_class.name if me.level == "class" else me.node.name
    if action in ("submit", "submit-extended"):
        if me.level == "inspectorate":
            target_node, level = me.node.parent_id, "ministry"
        else:
            target_node = chain.parent.node_id
            level = "unit" if me.level == "class" else chain.parent.level
    else:
        target_node = me.node_id
        level = "unit" if me.level == "class" else me.level
    users = [u for u in members([target_node], OWN_ROLES[level]) if u is not actor]
    subject = f"[{campaign.name}] {what}: {_VERB[action]}"
    body = f"Campaign: {campaign.name}\n{me.level.capitalize()}: {what}\nAction: {action}\n"
    if reason:
        body += f"Reason: {reason}\n"
    return _send(users, subject, body, me.node_id)


def campaign_launched(campaign, county_ids, message: str) -> int:
    """The launch invitation, to the inspector general and the inspectors of every county taking part."""
    subject = f"[{campaign.name}] Data collection campaign launched"
    body = (f"{message}\n\nCampaign: {campaign.name}\nSchool year: {campaign.school_year.name}\n"
            f"Deadline: {campaign.deadline.isoformat()}\n")
    count = 0
    for county_id in county_ids:
        count += _send(members([county_id], OWN_ROLES["inspectorate"]), subject, body, county_id)
    return count
