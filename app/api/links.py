"""Form-teacher link endpoints of API v1 (the unit responsible's side; documented in :mod:`app.api.openapi`).

``POST /campaigns/{cid}/classes/{class_id}/links`` issues (or re-issues) the class's link and is the only answer
that carries its URL; ``GET`` of the same path lists the class's link without any token; ``DELETE /links/{id}``
revokes. The class and the link load through the caller's subtree (404 outside it); ``links.manage`` on the unit
is needed (403).
"""
from __future__ import annotations

from flask import jsonify

from app.access import access, actor
from app.api import bp
from app.api.campaigns import _body, _campaign
from app.web.links import keys, link_url, send_link_mail
from core.errors import Invalid
from tenants.models import SchoolClass
from workflows import links
from workflows import state as wf
from workflows.models import ClassLink


def _iso(value):
    value = links.aware(value)
    return value.isoformat() if value is not None else None


def link_json(link: ClassLink) -> dict:
    """A link without its token: what the unit may know about it."""
    return {"id": link.id, "campaign_id": link.campaign_id, "class_id": link.class_id, "unit_id": link.unit_id,
            "version": link.version, "status": links.status_of(link), "works": links.refusal(link) is None,
            "expires_at": _iso(link.expires_at), "issued_at": _iso(link.issued_at),
            "emailed_at": _iso(link.emailed_at), "opened_at": _iso(link.opened_at), "saved_at": _iso(link.saved_at),
            "submitted_at": _iso(link.submitted_at), "reminded_at": _iso(link.reminded_at),
            "revoked_at": _iso(link.revoked_at), "teacher_name": link.teacher_name,
            "teacher_email": link.teacher_email}


def _class_campaign(campaign_id: int, school_class: SchoolClass):
    campaign = _campaign(campaign_id)
    wf.state_for(campaign, school_class)  # 404 when the class does not take part
    return campaign


@bp.route("/campaigns/<int:campaign_id>/classes/<int:class_id>/links", methods=["POST"])
@access("links.manage", load=SchoolClass, arg="class_id", as_="school_class")
def issue_class_link(campaign_id: int, school_class: SchoolClass):
    campaign = _class_campaign(campaign_id, school_class)
    data = _body()
    days = data.get("days", links.DEFAULT_DAYS)
    if isinstance(days, bool) or not isinstance(days, int):
        raise Invalid("days must be an integer", details={"days": "not_an_integer"})
    send = data.get("send_email", False)
    if not isinstance(send, bool):
        raise Invalid("send_email must be true or false", details={"send_email": "not_a_boolean"})
    for name in ("teacher_name", "teacher_email"):
        if data.get(name) is not None and not isinstance(data[name], str):
            raise Invalid(f"{name} must be a string", details={name: "not_a_string"})
    name, email = links.clean_teacher(data.get("teacher_name"), data.get("teacher_email"))
    # A field left out keeps the teacher's data of the earlier issue; an empty one clears it.
    link = links.issue(actor(), campaign, school_class, days=days,
                       teacher_name=(name or "") if "teacher_name" in data else None,
                       teacher_email=(email or "") if "teacher_email" in data else None)
    if send:
        if not link.teacher_email:  # the request rolls back: nothing issued
            raise Invalid("an e-mail address is needed to send the link", details={"teacher_email": "missing"})
        send_link_mail(link)
        links.mark_emailed(actor(), link)
    out = link_json(link)
    out["url"] = link_url(links.token_for(link, keys()))
    response = jsonify(out)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response, 201


@bp.route("/campaigns/<int:campaign_id>/classes/<int:class_id>/links")
@access("links.manage", load=SchoolClass, arg="class_id", as_="school_class")
def list_class_links(campaign_id: int, school_class: SchoolClass):
    campaign = _class_campaign(campaign_id, school_class)
    link = links.link_of(campaign, school_class)
    return jsonify({"items": [link_json(link)] if link is not None else []})


@bp.route("/links/<int:link_id>", methods=["DELETE"])
@access("links.manage", load=ClassLink, arg="link_id", as_="link")
def revoke_link(link: ClassLink):
    links.revoke(actor(), link)
    return jsonify(link_json(link))


__all__ = ["link_json"]
