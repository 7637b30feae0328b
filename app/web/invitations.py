"""Invitation pages: invite on a node, the list of invitations in scope (resend, revoke), the public acceptance
page, and the inspectorate's dashboard of schools with no account yet."""
from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms import EmailField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length

from app.access import access, actor
from app.auth.guard import complete_login
from app.auth.views import password_messages
from app.nav import ROLE_LABELS
from app.pagination import paginate
from app.web import bp
from core import mail
from core.db import session
from core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from tenants import invitations, policy, queries
from tenants.invitations import Invitation
from tenants.models import Node, User

STATE_LABELS = {"pending": _l("pending"), "accepted": _l("accepted"), "expired": _l("expired"),
                "revoked": _l("revoked")}
CREATE_PROBLEMS = {
    "has_role": _l("This person already holds this role here."),
    "pending": _l("An invitation for this person and role is already pending here: resend it instead."),
    "incomplete": _l("An e-mail address and a name are needed."),
}


class InviteForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=254)])
    name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=160)])
    role = SelectField(_l("Role"), validators=[DataRequired()])


class NewAccountForm(FlaskForm):
    name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=160)])
    password = PasswordField(_l("Choose a password"), validators=[DataRequired(), Length(max=200)])
    confirm = PasswordField(_l("Repeat the password"),
                            validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))])


class ConfirmForm(FlaskForm):
    pass


def _keys() -> list[str]:
    """Signing keys: the current one signs, older ones (during a rotation) still verify."""
    return [*current_app.config.get("SECRET_KEY_FALLBACKS", []), current_app.config["SECRET_KEY"]]


def _days() -> int:
    return int(current_app.config.get("INVITATION_DAYS", invitations.DEFAULT_DAYS))


def _role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))


def _mail(inv: Invitation, token: str) -> None:
    """The invitation e-mail, in the inviter's language; it leaves once the request commits."""
    link = url_for("web.accept_invitation", token=token, _external=True)
    inviter = actor()
    subject = _("Arbor: invitation as %(role)s — %(node)s", role=_role_label(inv.role), node=inv.node.name)
    body = render_template("invitations/mail.txt", inv=inv, link=link, inviter=inviter,
                           role=_role_label(inv.role), days=_days())
    mail.send(inv.email, subject, body, node_id=inv.node_id)


def _back(default: str) -> str:
    target = request.form.get("next") or request.args.get("next")
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return default


# --- inviting ---

@bp.route("/nodes/<int:node_id>/invite", methods=["GET", "POST"])
@access("users.invite", load=Node)
def invite(node: Node):
    user = actor()
    roles = invitations.invitable_roles(user, node)
    form = InviteForm()
    form.role.choices = [SelectChoice(r, _role_label(r)) for r in roles]
    if request.method == "GET" and request.args.get("role") in roles:
        form.role.data = request.args["role"]
    if roles and form.validate_on_submit():
        try:
            inv, token = invitations.create(user, node, email=form.email.data, name=form.name.data,
                                            role=form.role.data, secret_keys=_keys(), days=_days())
        except (Conflict, Invalid) as e:
            form.email.errors.append(str(CREATE_PROBLEMS.get(e.details, e.message)))
        else:
            _mail(inv, token)
            flash(_("Invitation sent to %(email)s.", email=inv.email), "ok")
            return redirect(url_for("web.invite", node_id=node.id))
    elif request.method == "POST" and not roles:
        raise Forbidden(_("Your role may not invite anyone here."))
    page = paginate(invitations.invitations_in_scope(user, node=node).where(Invitation.node_id == node.id)
                    .options(selectinload(Invitation.invited_by)), request.args.get("page"),
                    current_app.config["PAGE_SIZE"])
    below = None
    child_level = {"ministry": "inspectorate", "inspectorate": "school", "school": "unit"}.get(node.level)
    if child_level and any(invitations.INVITES.get(gr.role, {}).get(child_level) for gr in policy.grants(user)
                           if node.path.startswith(gr.path)):
        below = paginate(queries.children(node), request.args.get("below"), current_app.config["PAGE_SIZE"])
    return render_template("invitations/invite.html", node=node, form=form, roles=roles, page=page, below=below,
                           ancestors=_ancestors(user, node), **_helpers())


def _ancestors(user, node: Node) -> list[Node]:
    return [n for n in (session.get(Node, i) for i in node.ancestor_ids[:-1])
            if n is not None and policy.can_see(user, n)]


def _helpers() -> dict:
    return {"role_label": _role_label, "state_labels": STATE_LABELS, "can_manage": _can_manage, "days": _days()}


def _can_manage(inv: Invitation) -> bool:
    return invitations.can_invite(actor(), inv.node, inv.role)


@bp.route("/invitations", endpoint="invitations")
@access("users.invite")
def invitations_list():
    user = actor()
    state = request.args.get("state") if request.args.get("state") in invitations.STATES else None
    page = paginate(invitations.invitations_in_scope(user, state).options(selectinload(Invitation.invited_by)),
                    request.args.get("page"), current_app.config["PAGE_SIZE"])
    # Where the user may start: their own nodes, and the county dashboards they can open.
    roots = session.execute(select(Node).where(Node.path.in_(invitations.inviting_paths(user)))
                            .order_by(Node.path)).scalars().all()
    counties = [n for n in roots if n.level == "inspectorate"]
    if any(n.level == "ministry" for n in roots):
        counties = session.execute(select(Node).where(Node.level == "inspectorate")
                                   .order_by(Node.name)).scalars().all()
    return render_template("invitations/list.html", page=page, state=state, roots=roots, counties=counties,
                           states=invitations.STATES, **_helpers())


@bp.route("/invitations/<int:invitation_id>/resend", methods=["POST"])
@access("users.invite", load=Invitation)
def resend_invitation(invitation: Invitation):
    try:
        token = invitations.resend(invitation, actor(), secret_keys=_keys(), days=_days())
    except Conflict:
        flash(_("This invitation can no longer be sent."), "error")
    else:
        _mail(invitation, token)
        flash(_("Invitation sent again to %(email)s; the previous link no longer works.", email=invitation.email),
              "ok")
    return redirect(_back(url_for("web.invitations")))


@bp.route("/invitations/<int:invitation_id>/revoke", methods=["POST"])
@access("users.invite", load=Invitation)
def revoke_invitation(invitation: Invitation):
    try:
        invitations.revoke(invitation, actor())
    except Conflict:
        flash(_("This invitation was already accepted."), "error")
    else:
        flash(_("Invitation revoked: its link no longer works."), "ok")
    return redirect(_back(url_for("web.invitations")))


@bp.route("/nodes/<int:node_id>/schools-without-accounts")
@access("users.invite", load=Node)
def schools_without_accounts(node: Node):
    if node.level != "inspectorate":
        raise NotFound()
    user = actor()
    page = paginate(invitations.schools_without_accounts(node), request.args.get("page"),
                    current_app.config["PAGE_SIZE"])
    total = queries.count(select(Node).where(Node.level == "school", Node.county_id == node.id,
                                             Node.active.is_(True)))
    pending = invitations.pending_for([s.id for s in page.items])
    may_invite = {s.id: invitations.can_invite(user, s, "director") for s in page.items}
    return render_template("invitations/schools_without_accounts.html", node=node, page=page, total=total,
                           pending=pending, may_invite=may_invite, ancestors=_ancestors(user, node), **_helpers())


# --- accepting (public: the signed link is the credential) ---

def _sign_in(user: User) -> str:
    """Sign the new account in as the sign-in page does; returns where to go next (staff go on to enrol their
    second factor, which the security module enforces from there)."""
    return complete_login(user, "none", url_for("web.home"))


@bp.route("/invite/<token>", methods=["GET", "POST"])
@access(public=True)
def accept_invitation(token: str):
    g.personal_data = True  # never cached: the page names a person
    inv, state = invitations.open_link(token, _keys())
    if inv is None or state != "pending":
        return render_template("invitations/link_problem.html", state=state), 404 if state == "invalid" else 410
    user = actor()
    existing = session.execute(select(User).where(User.email == inv.email)).scalar()
    context = {"inv": inv, "role": _role_label(inv.role), "token": token}
    if existing is not None:
        if user is None:
            return render_template("invitations/accept.html", mode="sign_in",
                                   login_url=url_for("auth.login", next=request.path), **context)
        if user.id != existing.id:
            return render_template("invitations/accept.html", mode="other_account", **context), 403
        form = ConfirmForm()
        if form.validate_on_submit():
            invitations.accept(token, _keys(), user=user)
            flash(_("You are now %(role)s at %(node)s.", role=_role_label(inv.role), node=inv.node.name), "ok")
            return redirect(url_for("web.node", node_id=inv.node_id))
        return render_template("invitations/accept.html", mode="confirm", form=form, **context)
    if user is not None:
        return render_template("invitations/accept.html", mode="other_account", **context), 403
    form = NewAccountForm()
    if request.method == "GET":
        form.name.data = inv.name
    if form.validate_on_submit():
        try:
            new_user = invitations.accept(token, _keys(), name=form.name.data, password=form.password.data)
        except Invalid as e:
            codes = e.details if isinstance(e.details, list) else []
            form.password.errors.extend(password_messages(codes) if codes else [e.message])
        except DomainError:
            return render_template("invitations/link_problem.html", state="used"), 410
        else:
            target = _sign_in(new_user)
            flash(_("Welcome to Arbor. Your account is ready."), "ok")
            return redirect(target)
    return render_template("invitations/accept.html", mode="new_account", form=form, **context)
