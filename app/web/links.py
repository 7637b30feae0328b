"""Form-teacher links, the unit responsible's side: the unit's class list with each class's link status, issue and
re-issue (validity, teacher's name and e-mail, sent by e-mail on request), revoke, remind, issue for every class at
once, the link page of one class (URL and QR code) and a printable sheet of QR codes.

Every page here needs ``links.manage`` on the unit (the unit responsible). Pages that show a link's URL carry its
token: they are never cached (``Cache-Control: no-store``) and never leak it in a Referer. The mails of
:mod:`workflows.link_tasks` are rendered here too (:func:`send_link_mail`, registered as its mailer).
"""
from __future__ import annotations

from flask import current_app, flash, g, has_request_context, redirect, render_template, request, url_for
from flask_babel import force_locale, gettext as _, lazy_gettext as _l

from app.access import access, actor
from app.web import bp
from app.web.campaign_messages import refusal_text
from app.web.campaigns import load_campaign
from core import mail
from core.db import session
from core.errors import Conflict, Invalid, NotFound
from tenants.models import Node, SchoolClass
from workflows import link_tasks, links, queries as wq, state as wf
from workflows.models import Campaign, ClassLink

STATUS_LABELS = {"not_issued": _l("no link"), "issued": _l("issued"), "opened": _l("opened"), "saved": _l("saved"),
                 "submitted": _l("submitted through the link"), "revoked": _l("revoked"), "expired": _l("expired")}


# --- helpers -------------------------------------------------------------------------------------------------

def keys() -> list[str]:
    """Signing keys: the current one signs, older ones (during a rotation) still verify."""
    return [*current_app.config.get("SECRET_KEY_FALLBACKS", []), current_app.config["SECRET_KEY"]]


def link_url(token: str) -> str:
    """The public address of a link token (``web.link_open``, ``GET /l/<token>``)."""
    if "web.link_open" in current_app.view_functions:
        return url_for("web.link_open", token=token, _external=True)
    return f"{request.url_root.rstrip('/')}/l/{token}"


def qr_data_uri(url: str) -> str:
    """The QR code of ``url`` as an SVG ``data:`` URI (the CSP allows data: images; no inline style on the page)."""
    import segno
    return segno.make(url, error="m").svg_data_uri(scale=4, border=2)


def _secret_headers(response):
    """A page that shows link tokens: never stored, never sent on as a Referer."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def send_link_mail(link: ClassLink, kind: str = "link", base_url: str | None = None) -> None:
    """Queue the mail of ``kind`` ("link": a new link, "reminder") to the link's teacher, with the current URL, in
    the platform's default language (the teacher has no account to choose one). Leaves after the commit. Outside a
    request (the reminder job) the URL is built on ``base_url``."""
    if not link.teacher_email:
        raise Invalid(_("An e-mail address is needed to send the link."), details={"teacher_email": "missing"})
    if kind not in ("link", "reminder"):
        raise ValueError(kind)

    def build():
        url = link_url(links.token_for(link, keys()))
        school_class, campaign = link.school_class, link.campaign
        with force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE", "ro")):
            if kind == "reminder":
                subject = _("Reminder: the class table of %(cls)s — %(unit)s", cls=school_class.name,
                            unit=school_class.unit.name)
            else:
                subject = _("Class table of %(cls)s — %(unit)s", cls=school_class.name, unit=school_class.unit.name)
            body = render_template(f"links/mail_{kind}.txt", link=link, url=url, school_class=school_class,
                                   campaign=campaign, expires=links.aware(link.expires_at))
        mail.send(link.teacher_email, subject, body, node_id=link.unit_id)

    if has_request_context():
        build()
    else:
        with current_app.test_request_context(base_url=base_url or "http://localhost"):
            build()


link_tasks.set_mailer(send_link_mail)


def _unit_campaign(campaign_id: int, unit: Node) -> Campaign:
    """The launched campaign the unit takes part in, or 404."""
    if unit.level != "unit":
        raise NotFound()
    campaign = load_campaign(campaign_id, actor())
    if campaign.status == "draft":
        raise NotFound()
    wf.state_for(campaign, unit)
    return campaign


def _manage_url(campaign_id: int, unit_id: int) -> str:
    return url_for("web.links_manage", campaign_id=campaign_id, unit_id=unit_id)


def _days() -> int:
    raw = request.form.get("days", "").strip()
    try:
        return int(raw) if raw else links.DEFAULT_DAYS
    except ValueError:
        raise Invalid(_("The validity is a number of days."), details={"days": "not_a_number"}) from None


def _checked(name: str) -> bool:
    return request.form.get(name) in ("1", "on", "yes", "true")


def _problem(e) -> str:
    details = e.details if isinstance(e.details, dict) else {}
    if details.get("days"):
        return _("A link is valid for 1 to %(max)s days.", max=links.MAX_DAYS)
    if details.get("teacher_email") == "missing":
        return _("An e-mail address is needed to send the link.")
    if details.get("teacher_email"):
        return _("This is not an e-mail address.")
    if details.get("teacher_name"):
        return _("The teacher's name is too long (120 characters at most).")
    if details.get("code") == "not_running":
        return _("The campaign is not running; no links can be issued.")
    if details.get("code") in links.REFUSALS:
        return _("This link no longer works; issue it again instead.")
    return refusal_text(e)


@bp.app_context_processor
def _link_helpers():
    return {"campaign_links_progress": wq.links_progress, "link_status_labels": STATUS_LABELS}


# --- the unit's class list -----------------------------------------------------------------------------------

@bp.route("/campaigns/<int:campaign_id>/nodes/<int:unit_id>/links")
@access("links.manage", load=Node, arg="unit_id", as_="unit")
def links_manage(campaign_id: int, unit: Node):
    g.personal_data = True  # teachers' names and addresses
    campaign = _unit_campaign(campaign_id, unit)
    rows = links.unit_classes(campaign, unit)
    blockers = links.issue_blockers(campaign, unit, rows)
    items = [{"state": st, "cls": st.school_class, "link": link, "status": links.status_of(link),
              "working": link is not None and links.refusal(link) is None,
              "blocker": refusal_text(blockers[st.id]) if blockers[st.id] is not None else None}
             for st, link in rows]
    return render_template("links/manage.html", campaign=campaign, unit=unit, items=items,
                           progress=wq.links_progress(campaign, unit), default_days=links.DEFAULT_DAYS,
                           max_days=links.MAX_DAYS, running=campaign.status == "running",
                           ancestors=_ancestors(unit))


def _ancestors(unit: Node) -> list[Node]:
    from tenants import queries
    return session.execute(queries.visible_ancestors(unit, actor())).scalars().all()


@bp.route("/campaigns/<int:campaign_id>/classes/<int:class_id>/link", methods=["POST"])
@access("links.manage", load=SchoolClass, arg="class_id", as_="school_class")
def link_issue(campaign_id: int, school_class: SchoolClass):
    """Issue the class's link, or re-issue it (the old one stops working); e-mail it when asked."""
    campaign = _unit_campaign(campaign_id, school_class.unit)
    back = _manage_url(campaign.id, school_class.unit_id)
    try:
        days = _days()
        name, email = links.clean_teacher(request.form.get("teacher_name"), request.form.get("teacher_email"))
        send = _checked("send_email")
        if send and not email:
            raise Invalid("no address", details={"teacher_email": "missing"})
        link = links.issue(actor(), campaign, school_class, days=days, teacher_name=name or "",
                           teacher_email=email or "")
        if send:
            send_link_mail(link)
            links.mark_emailed(actor(), link)
    except (Invalid, Conflict) as e:
        flash(_("No link issued for %(cls)s: %(why)s", cls=school_class.name, why=_problem(e)), "error")
        return redirect(back, 303)
    if send:
        flash(_("Link for %(cls)s issued and e-mailed to %(email)s.", cls=school_class.name, email=email), "ok")
    else:
        flash(_("Link for %(cls)s issued. Give it to the form teacher.", cls=school_class.name), "ok")
    return redirect(url_for("web.link_show", campaign_id=campaign.id, class_id=school_class.id), 303)


@bp.route("/campaigns/<int:campaign_id>/classes/<int:class_id>/link")
@access("links.manage", load=SchoolClass, arg="class_id", as_="school_class")
def link_show(campaign_id: int, school_class: SchoolClass):
    """The class's working link: its address to copy and its QR code."""
    g.personal_data = True
    campaign = _unit_campaign(campaign_id, school_class.unit)
    link = links.link_of(campaign, school_class)
    if link is None or links.refusal(link) is not None:
        flash(_("%(cls)s has no working link: issue one.", cls=school_class.name), "error")
        return redirect(_manage_url(campaign.id, school_class.unit_id), 303)
    url = link_url(links.token_for(link, keys()))
    page = render_template("links/manage_link.html", campaign=campaign, unit=school_class.unit,
                           school_class=school_class, link=link, url=url, qr=qr_data_uri(url),
                           expires=links.aware(link.expires_at), status=links.status_of(link))
    return _secret_headers(current_app.make_response(page))


@bp.route("/links/<int:link_id>/revoke", methods=["POST"])
@access("links.manage", load=ClassLink, arg="link_id", as_="link")
def link_revoke(link: ClassLink):
    name = link.school_class.name
    try:
        links.revoke(actor(), link)
    except Conflict:
        flash(_("The link of %(cls)s was already revoked.", cls=name), "error")
    else:
        flash(_("The link of %(cls)s is revoked: it no longer opens.", cls=name), "ok")
    return redirect(_manage_url(link.campaign_id, link.unit_id), 303)


@bp.route("/links/<int:link_id>/remind", methods=["POST"])
@access("links.manage", load=ClassLink, arg="link_id", as_="link")
def link_remind(link: ClassLink):
    try:
        links.remind(actor(), link)
        send_link_mail(link, "reminder")
    except (Invalid, Conflict) as e:
        flash(_("No reminder sent for %(cls)s: %(why)s", cls=link.school_class.name, why=_problem(e)), "error")
    else:
        flash(_("Reminder sent to %(email)s.", email=link.teacher_email), "ok")
    return redirect(_manage_url(link.campaign_id, link.unit_id), 303)


@bp.route("/campaigns/<int:campaign_id>/nodes/<int:unit_id>/links/all", methods=["POST"])
@access("links.manage", load=Node, arg="unit_id", as_="unit")
def links_issue_all(campaign_id: int, unit: Node):
    """Issue a link to every class without a working one; e-mail the new ones to known teachers when asked."""
    campaign = _unit_campaign(campaign_id, unit)
    back = _manage_url(campaign.id, unit.id)
    try:
        done = links.issue_all(actor(), campaign, unit, days=_days())
    except (Invalid, Conflict) as e:
        flash(_("No links issued: %(why)s", why=_problem(e)), "error")
        return redirect(back, 303)
    mailed = 0
    if _checked("send_email"):
        for link in done.issued:
            if link.teacher_email:
                send_link_mail(link)
                links.mark_emailed(actor(), link)
                mailed += 1
    flash(_("Links issued: %(issued)s (e-mailed: %(mailed)s); working links kept: %(kept)s; classes that cannot "
            "take a link now: %(skipped)s.", issued=len(done.issued), mailed=mailed, kept=len(done.kept),
            skipped=len(done.skipped)), "ok")
    return redirect(back, 303)


@bp.route("/campaigns/<int:campaign_id>/nodes/<int:unit_id>/links/sheet")
@access("links.manage", load=Node, arg="unit_id", as_="unit")
def links_qr_sheet(campaign_id: int, unit: Node):
    """A printable sheet: one card per class with a working link (class, unit, QR code, address, expiry)."""
    g.personal_data = True
    campaign = _unit_campaign(campaign_id, unit)
    cards, missing = [], []
    for st, link in links.unit_classes(campaign, unit):
        if link is None or links.refusal(link) is not None:
            missing.append(st.school_class)
            continue
        url = link_url(links.token_for(link, keys()))
        cards.append({"cls": st.school_class, "link": link, "url": url, "qr": qr_data_uri(url),
                      "expires": links.aware(link.expires_at)})
    page = render_template("links/qr_sheet.html", campaign=campaign, unit=unit, cards=cards, missing=missing)
    return _secret_headers(current_app.make_response(page))


__all__ = ["keys", "link_url", "qr_data_uri", "send_link_mail"]
