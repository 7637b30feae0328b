"""Data entry of a campaign: the unit form, its extended section and each class table, rendered from the pinned
form definition. Save draft accepts incomplete data but refuses wrong types or out-of-range values naming the
field; Submit saves, then lists every rule still broken or submits. The form carries the values' version: a save
based on a stale version is refused (409) and the page shows what changed. Locked or submitted → read-only.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import flash, redirect, render_template, request
from flask_babel import get_locale, gettext as _

from app.access import access, actor
from app.web import bp
from app.web.campaign_messages import localized, refusal_text
from app.web.campaigns import load_campaign
from core.db import session
from core.errors import Conflict, Forbidden, Invalid, NotFound
from forms import engine
from forms.definitions import Definition, Field, localize
from forms.fieldtypes import FieldError
from tenants import queries
from tenants.models import Node, SchoolClass
from workflows import state as sm, values as wv
from workflows.models import Campaign, CampaignState

NUMERIC = ("integer", "decimal")


@dataclass
class Input:
    """One field as the page shows it."""
    key: str
    label: str
    type: str
    value: object
    help: str = ""
    choices: list = field(default_factory=list)      # [(value, label)]
    errors: list = field(default_factory=list)
    required: bool = False
    min: object = None
    max: object = None

    @property
    def id(self) -> str:
        return "f-" + self.key.replace(".", "-")

    @property
    def is_input(self) -> bool:
        return self.type != "computed"

    def shown(self) -> str:
        """The value as text (read-only views and computed fields)."""
        v = self.value
        if v is None or v == "" or v == []:
            return "—"
        if isinstance(v, bool):
            return _("yes") if v else _("no")
        labels = dict(self.choices)
        if isinstance(v, list):
            return ", ".join(str(labels.get(x, x)) for x in v)
        if isinstance(v, float):
            return f"{v:.2f}".rstrip("0").rstrip(".")
        return str(labels.get(v, v))

    def text(self) -> str:
        """The value for an input's value attribute."""
        v = self.value
        if v is None:
            return ""
        if isinstance(v, bool):
            return "yes" if v else "no"
        return str(v)

    def selected(self, choice) -> bool:
        v = self.value
        return choice in v if isinstance(v, list) else v == choice


def _locale() -> str:
    return str(get_locale() or "ro")


def field_error(d: dict) -> FieldError:
    """A FieldError back from its dict form (``FieldError.to_dict``, as in an Invalid's ``details["errors"]``)."""
    return FieldError(field=d.get("field"), code=d.get("code") or "", message=d.get("message") or "",
                      params=dict(d.get("params") or {}), rule=d.get("rule"), fields=tuple(d.get("fields") or ()),
                      text=d.get("text"))


def error_text(e) -> str:
    """A FieldError or its dict form, in the page's language (through ``FieldError.render``: its English msgid
    translated by the catalog, or a rule's own text in the page's language)."""
    if not isinstance(e, FieldError):
        e = field_error(e)
    return e.render(_locale(), _)


def _sections(definition: Definition, context: dict, values: dict, errors: dict[str, list[str]]):
    """[(title, layout, [(item label or None, [Input])])] in definition order, repeating sections expanded."""
    loc = _locale()

    def one(f: Field, key: str) -> Input:
        choices = engine.choices_for(f) or []
        return Input(key=key, label=localize(f.label, loc) or key, type=f.type, value=values.get(key),
                     help=localize(f.help, loc), choices=[(c.value, localize(c.label, loc)) for c in choices],
                     errors=errors.get(key, []), required=f.required, min=f.spec.get("min"), max=f.spec.get("max"))

    out = []
    flat = engine.flatten_context(context)
    for s in definition.sections:
        groups = []
        if s.repeat:
            for item in definition.repeat_items(s, flat):
                groups.append((localize(item.get("label"), loc) or item["key"],
                               [one(f, f"{s.key}.{item['key']}.{f.key}") for f in s.fields]))
        else:
            groups.append((None, [one(f, f.key) for f in s.fields]))
        out.append((localize(s.title, loc), s.layout, groups))
    return out


def _labels(definition: Definition, context: dict) -> dict[str, str]:
    loc = _locale()
    return {f.key: localize(f.label, loc) or f.key for f in definition.concrete_fields(engine.flatten_context(context))}


def _posted(definition: Definition, context: dict) -> dict:
    """The submitted values of the input fields present in the form (strings; the engine parses them)."""
    out = {}
    for f in definition.concrete_fields(engine.flatten_context(context)):
        if not f.is_input or f.key not in request.form:
            continue
        if f.type == "multiple_choice":
            out[f.key] = [v for v in request.form.getlist(f.key) if v]
        else:
            out[f.key] = request.form.get(f.key, "")[:10000]
    return out


def _editable(user, campaign: Campaign, state: CampaignState, section: str) -> tuple[bool, str | None]:
    """(may this user edit, why the section is read-only for everyone now — in the page's language)."""
    blocker = sm.edit_refusal(campaign, sm.read_chain(state), section)
    roles = sm.actor_roles(user, state) & sm.EDIT_ROLES
    return bool(roles) and blocker is None, refusal_text(blocker) if blocker is not None else None


def _entry(campaign: Campaign, target, section: str, *, title: str, here: str, unit: Node):
    user = actor()
    if campaign.status == "draft":
        raise NotFound()
    state = sm.state_for(campaign, target)
    section = wv.section_of(state, section)
    if section == "extended" and state.extended == "none":
        raise NotFound()
    submit_action = "submit-extended" if section == "extended" else "submit"
    status, errors, problems, conflict, posted = 200, {}, [], None, {}
    cur = wv.get_values(campaign, state, section)
    if request.method == "POST":
        try:
            version = int(request.form.get("version", ""))
        except ValueError:
            raise Invalid(_("The form carries no version.")) from None
        posted = _posted(cur.definition, cur.context)
        try:
            saved = wv.save_values(user, campaign, state, posted, version, mode="draft", section=section)
        except Forbidden as e:
            raise localized(e) from None
        except Invalid as e:
            status = 422
            for d in (e.details or {}).get("errors", []):
                for k in d.get("fields") or [d.get("field")]:
                    errors.setdefault(k, []).append(error_text(d))
            problems = [(d.get("field"), error_text(d)) for d in (e.details or {}).get("errors", [])]
        except Conflict as e:
            status = 409
            details = e.details or {}
            cur = wv.get_values(campaign, state, section)
            if "current_version" in details:
                conflict = details.get("changed_fields") or []
            else:
                flash(_("Not saved: %(why)s", why=refusal_text(e)), "error")
        else:
            if request.form.get("op") != "submit":
                flash(_("Saved (version %(v)s).", v=saved.version), "ok")
                return redirect(request.path, 303)
            broken = wv.submit_errors(campaign, state, section)
            if not broken:
                try:
                    sm.transition(user, campaign, state, submit_action)
                except (Conflict, Invalid) as e:
                    flash(_("Saved, but not submitted: %(why)s", why=refusal_text(e)), "error")
                else:
                    flash(_("Submitted."), "ok")
                return redirect(request.path, 303)
            # The draft is saved (status 200 keeps it); the page lists every rule still broken.
            cur = wv.get_values(campaign, state, section)
            posted = {}
            for e in broken:
                for k in e.fields or (e.field,):
                    errors.setdefault(k, []).append(error_text(e))
            problems = [(e.field, error_text(e)) for e in broken]
            flash(_("Saved as a draft, but not submitted: %(n)s problem(s) to fix.", n=len(broken)), "error")
    may_edit, blocker = _editable(user, campaign, state, section)
    shown = dict(cur.values)
    if status == 422:
        shown.update(posted)
    elif conflict is not None:
        shown.update({k: v for k, v in posted.items() if k not in conflict})
    labels = _labels(cur.definition, cur.context)
    yours = {k: posted.get(k) for k in (conflict or []) if k in posted}
    actions = sm.available_actions(user, campaign, state)
    ancestors = session.execute(queries.visible_ancestors(unit, user)).scalars().all()
    return render_template(
        "campaigns/entry.html", campaign=campaign, state=state, section=section, title=title, here=here,
        unit=unit, ancestors=ancestors, version=cur.version, sections=_sections(cur.definition, cur.context, shown,
                                                                                errors),
        may_edit=may_edit, blocker=blocker, problems=[(labels.get(k, "") if k else "", m) for k, m in problems],
        conflict=conflict, changed=[(labels.get(k, k), k, yours.get(k)) for k in conflict or []],
        current=cur.values, may_submit=submit_action in actions, actions=[a for a in actions if a != submit_action],
        definition_title=localize(cur.definition.title, _locale())), status


@bp.route("/campaigns/<int:campaign_id>/nodes/<int:node_id>/form", methods=["GET", "POST"])
@access("campaigns.view", load=Node)
def unit_form(campaign_id: int, node: Node):
    campaign = load_campaign(campaign_id, actor())
    if node.level != "unit":
        raise NotFound()
    return _entry(campaign, node, "unit", title=_("Unit form"), here=_("Unit form"), unit=node)


@bp.route("/campaigns/<int:campaign_id>/nodes/<int:node_id>/extended", methods=["GET", "POST"])
@access("campaigns.view", load=Node)
def unit_extended(campaign_id: int, node: Node):
    campaign = load_campaign(campaign_id, actor())
    if node.level != "unit":
        raise NotFound()
    return _entry(campaign, node, "extended", title=_("Extended section"), here=_("Extended section"), unit=node)


@bp.route("/campaigns/<int:campaign_id>/classes/<int:class_id>/table", methods=["GET", "POST"])
@access("campaigns.view", load=SchoolClass, arg="class_id", as_="school_class")
def class_table(campaign_id: int, school_class: SchoolClass):
    campaign = load_campaign(campaign_id, actor())
    return _entry(campaign, school_class, "class", title=_("Class %(name)s", name=school_class.name),
                  here=school_class.name, unit=school_class.unit)


__all__ = ["error_text"]
