"""The unit's own structure: buildings and the classes of a school year, added and edited by the unit (its
responsible), the director or the school administrator. Nothing is deleted: the register keeps its history.

A class added while a campaign of its school year is running joins that campaign when the unit's data there can
still be edited (:mod:`workflows.structure`)."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext as _, lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from app import nav
from app.access import access, actor
from app.web import bp
from core.db import session
from core.errors import Conflict, Invalid, NotFound
from forms import nomenclatures
from forms.definitions import localize
from tenants import operations, policy, queries
from tenants.models import EDUCATION_FORMS, GRADE_LEVELS, Building, Node, SchoolClass, SchoolYear
from workflows import structure as wstructure

MAX_PUPILS = 200


def _opt_int(value):
    return int(value) if value not in (None, "", "None") else None


class BuildingForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=255)])
    classrooms = IntegerField(_l("Classrooms"), validators=[Optional(), NumberRange(min=0, max=500)])


class ClassForm(FlaskForm):
    name = StringField(_l("Class name"), validators=[DataRequired(), Length(max=40)])
    grade_level = SelectField(_l("Grade"), coerce=int)
    teaching_language = SelectField(_l("Teaching language"))
    education_form = SelectField(_l("Education form"))
    pupils = IntegerField(_l("Pupils"), validators=[DataRequired(), NumberRange(min=0, max=MAX_PUPILS)])
    combined = BooleanField(_l("Combined-grade class (pupils of several grades taught together)"))
    building_id = SelectField(_l("Building"), coerce=_opt_int)

    def __init__(self, unit: Node, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # 0 pupils is a valid answer (a class kept in the register); DataRequired would refuse it
        self.pupils.validators = [NumberRange(min=0, max=MAX_PUPILS, message=_l(
            "Enter a number of pupils between 0 and %(max)s.", max=MAX_PUPILS))]
        self.grade_level.choices = [(g, nav.grade_label(g)) for g in GRADE_LEVELS]
        self.education_form.choices = [(f, str(nav.EDUCATION_FORM_LABELS[f])) for f in EDUCATION_FORMS]
        locale = str(get_locale() or "ro")
        self.teaching_language.choices = [(c.value, localize(c.label, locale))
                                          for c in nomenclatures.choices("teaching_languages")]
        self.building_id.choices = [(None, _("— none —"))] + [
            (b.id, b.name) for b in session.execute(queries.buildings_of(unit)).scalars()]

    def keep_choice(self, field, value, label=None):
        """An existing value no longer offered (e.g. an inactive language) stays selectable."""
        if value is not None and all(v != value for v, _label in field.choices):
            field.choices.append((value, label or str(value)))


def _unit_or_404(node: Node) -> Node:
    if node.level != "unit":
        raise NotFound()
    return node


def _ancestors(node: Node) -> list[Node]:
    user = actor()
    return [n for n in (session.get(Node, i) for i in node.ancestor_ids[:-1])
            if n is not None and policy.can_see(user, n)]


def _year(default_id=None) -> tuple[SchoolYear | None, list[SchoolYear]]:
    """The school year named by ?year= (or ``default_id``), else the current one."""
    years = session.execute(queries.school_years()).scalars().all()
    wanted = request.args.get("year", type=int) or default_id
    chosen = next((y for y in years if y.id == wanted), None)
    if chosen is None:
        chosen = next((y for y in years if y.current), years[0] if years else None)
    return chosen, years


# --- the overview ---

@bp.route("/nodes/<int:node_id>/structure")
@access("structure.edit", load=Node)
def structure(node: Node):
    unit = _unit_or_404(node)
    year, years = _year()
    classes = session.execute(queries.classes_of(unit, year)).scalars().all() if year else []
    buildings = session.execute(queries.buildings_of(unit)).scalars().all()
    running = wstructure.running_campaigns(year.id) if year else []
    return render_template("structure/index.html", node=unit, ancestors=_ancestors(unit), year=year, years=years,
                           classes=classes, buildings=buildings, building_names={b.id: b.name for b in buildings},
                           running=running)


# --- buildings ---

def _building_page(unit: Node, form: BuildingForm, building: Building | None):
    return render_template("structure/building.html", node=unit, ancestors=_ancestors(unit), form=form,
                           building=building)


@bp.route("/nodes/<int:node_id>/buildings/new", methods=["GET", "POST"])
@access("structure.edit", load=Node)
def building_new(node: Node):
    unit = _unit_or_404(node)
    form = BuildingForm()
    if form.validate_on_submit():
        try:
            b = operations.create_building(unit, form.name.data.strip(), actor=actor(),
                                           address=(form.address.data or "").strip() or None,
                                           classrooms=form.classrooms.data)
        except Conflict:
            form.name.errors.append(_("This unit already has a building with this name."))
        else:
            flash(_("Building %(name)s added.", name=b.name), "ok")
            return redirect(url_for("web.structure", node_id=unit.id))
    return _building_page(unit, form, None)


@bp.route("/buildings/<int:building_id>/edit", methods=["GET", "POST"])
@access("structure.edit", load=Building)
def building_edit(building: Building):
    unit = session.get(Node, building.unit_id)
    form = BuildingForm(obj=building)
    if form.validate_on_submit():
        changes = {"name": form.name.data.strip(), "address": (form.address.data or "").strip() or None,
                   "classrooms": form.classrooms.data}
        try:
            changed = operations.update_building(building, changes, actor=actor())
        except Conflict:
            form.name.errors.append(_("This unit already has a building with this name."))
        else:
            flash(_("Building %(name)s saved.", name=building.name) if changed else _("Nothing changed."), "ok")
            return redirect(url_for("web.structure", node_id=unit.id))
    return _building_page(unit, form, building)


# --- classes ---

def _class_values(form: ClassForm) -> dict:
    return {"name": form.name.data.strip(), "grade_level": form.grade_level.data,
            "teaching_language": form.teaching_language.data, "education_form": form.education_form.data,
            "pupils": form.pupils.data, "combined": bool(form.combined.data), "building_id": form.building_id.data}


def _class_problem(form: ClassForm, e, year: SchoolYear) -> None:
    if isinstance(e, Conflict) and e.details == {"name": "duplicate"}:
        form.name.errors.append(_("This unit already has a class named %(name)s in %(year)s.",
                                  name=form.name.data.strip(), year=year.name))
    else:
        form.building_id.errors.append(_("Choose one of this unit's buildings."))


def _class_page(unit: Node, form: ClassForm, year: SchoolYear, school_class: SchoolClass | None, running=()):
    return render_template("structure/class.html", node=unit, ancestors=_ancestors(unit), form=form, year=year,
                           school_class=school_class, running=running)


@bp.route("/nodes/<int:node_id>/classes/new", methods=["GET", "POST"])
@access("structure.edit", load=Node)
def class_new(node: Node):
    unit = _unit_or_404(node)
    year, _years = _year()
    if year is None:
        raise NotFound(_("There is no school year yet."))
    form = ClassForm(unit)
    if request.method == "GET":
        form.teaching_language.data = (unit.languages or "ro").split(",")[0].strip() or "ro"
        form.education_form.data = "day"
    if form.validate_on_submit():
        user = actor()
        try:
            c = operations.create_class(unit, year, actor=user, **_class_values(form))
        except (Conflict, Invalid) as e:
            _class_problem(form, e, year)
        else:
            flash(_("Class %(name)s added to %(year)s.", name=c.name, year=year.name), "ok")
            joined, refused = wstructure.join_running_campaigns(c, user)
            for campaign in joined:
                flash(_("It joins the running campaign %(campaign)s: its table starts from the class parameters.",
                        campaign=campaign.name), "ok")
            for campaign, _reason in refused:
                flash(_("It is not part of the running campaign %(campaign)s: the unit's data there is submitted, "
                        "locked or excluded, so the campaign keeps the classes it had.", campaign=campaign.name),
                      "error")
            return redirect(url_for("web.structure", node_id=unit.id, year=year.id))
    return _class_page(unit, form, year, None, wstructure.running_campaigns(year.id))


@bp.route("/classes/<int:class_id>/edit", methods=["GET", "POST"])
@access("structure.edit", load=SchoolClass, arg="class_id", as_="school_class")
def class_edit(school_class: SchoolClass):
    c = school_class
    unit = session.get(Node, c.unit_id)
    year = session.get(SchoolYear, c.school_year_id)
    form = ClassForm(unit, obj=c)
    form.keep_choice(form.teaching_language, c.teaching_language)
    if form.validate_on_submit():
        try:
            changed = operations.update_class(c, _class_values(form), actor=actor())
        except (Conflict, Invalid) as e:
            _class_problem(form, e, year)
        else:
            flash(_("Class %(name)s saved.", name=c.name) if changed else _("Nothing changed."), "ok")
            return redirect(url_for("web.structure", node_id=unit.id, year=year.id))
    return _class_page(unit, form, year, c, wstructure.running_campaigns(year.id))
