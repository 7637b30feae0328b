"""Nomenclatures (ethnicities, teaching languages, measures, …): the lists form choices come from, managed by
platform administrators. Items are added, relabelled, deactivated and reactivated; a code never changes and
nothing is deleted, because collected data stores the codes (:mod:`forms.nomenclatures`).

Nomenclatures are national: the views check ``nomenclatures.manage`` and load by id themselves (no node scope)."""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import get_locale, gettext as _, lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from app.access import access, actor
from app.web import bp
from core.db import session
from core.errors import Conflict, Invalid, NotFound
from forms import nomenclatures
from forms.definitions import localize
from forms.models import Nomenclature, NomenclatureItem

LABEL_MAX = 200
CODE_HELP = _l("Use lower-case letters, digits and _, starting with a letter (at most 40).")


class LabelsForm(FlaskForm):
    label_ro = StringField(_l("Romanian label"), validators=[DataRequired(), Length(max=LABEL_MAX)])
    label_en = StringField(_l("English label"), validators=[Optional(), Length(max=LABEL_MAX)])

    def stored_label(self) -> dict:
        """The stored label: {"ro": …} plus "en" when given."""
        out = {"ro": self.label_ro.data.strip()}
        if (self.label_en.data or "").strip():
            out["en"] = self.label_en.data.strip()
        return out

    def fill(self, label) -> None:
        if isinstance(label, dict):
            self.label_ro.data = label.get("ro") or localize(label, "ro")
            self.label_en.data = label.get("en", "")
        else:
            self.label_ro.data = label or ""


class ItemForm(LabelsForm):
    code = StringField(_l("Code"), filters=[lambda v: v.strip().lower() if isinstance(v, str) else v],
                       validators=[DataRequired(), Regexp(nomenclatures.CODE_RE, message=CODE_HELP)])


def _locale() -> str:
    return str(get_locale() or "ro")


def _nomenclature_or_404(nomenclature_id: int) -> Nomenclature:
    nom = session.get(Nomenclature, nomenclature_id)
    if nom is None:
        raise NotFound()
    return nom


def _item_or_404(item_id: int) -> NomenclatureItem:
    item = session.get(NomenclatureItem, item_id)
    if item is None:
        raise NotFound()
    return item


def _detail(nom: Nomenclature, form: ItemForm):
    items = session.execute(select(NomenclatureItem).where(NomenclatureItem.nomenclature_id == nom.id)
                            .order_by(NomenclatureItem.position, NomenclatureItem.id)).scalars().all()
    return render_template("nomenclatures/detail.html", nomenclature=nom, title=localize(nom.title, _locale()),
                           items=items, form=form)


@bp.route("/nomenclatures")
@access("nomenclatures.manage")
def nomenclatures_index():
    noms = session.execute(select(Nomenclature).order_by(Nomenclature.key)).scalars().all()
    locale = _locale()
    rows = sorted(((n, localize(n.title, locale), sum(1 for i in n.items if i.active), len(n.items)) for n in noms),
                  key=lambda r: r[1].casefold())
    return render_template("nomenclatures/index.html", rows=rows)


@bp.route("/nomenclatures/<int:nomenclature_id>")
@access("nomenclatures.manage")
def nomenclature(nomenclature_id: int):
    return _detail(_nomenclature_or_404(nomenclature_id), ItemForm())


@bp.route("/nomenclatures/<int:nomenclature_id>/items", methods=["POST"])
@access("nomenclatures.manage")
def nomenclature_item_new(nomenclature_id: int):
    nom = _nomenclature_or_404(nomenclature_id)
    form = ItemForm()
    if form.validate_on_submit():
        try:
            item = nomenclatures.create_item(nom, form.code.data, form.stored_label(), actor=actor())
        except Conflict:
            form.code.errors.append(_("This nomenclature already has an item with this code."))
        except Invalid:
            form.code.errors.append(str(CODE_HELP))
        else:
            flash(_("Item %(code)s added.", code=item.code), "ok")
            return redirect(url_for("web.nomenclature", nomenclature_id=nom.id))
    return _detail(nom, form)


@bp.route("/nomenclature-items/<int:item_id>/edit", methods=["GET", "POST"])
@access("nomenclatures.manage")
def nomenclature_item_edit(item_id: int):
    item = _item_or_404(item_id)
    nom = item.nomenclature
    form = LabelsForm()
    if form.validate_on_submit():
        label = form.stored_label()
        if isinstance(item.label, dict):  # keep translations this page does not edit
            label = {**{k: v for k, v in item.label.items() if k not in ("ro", "en")}, **label}
        changed = nomenclatures.update_item(item, {"label": label}, actor=actor())
        flash(_("Item %(code)s saved.", code=item.code) if changed else _("Nothing changed."), "ok")
        return redirect(url_for("web.nomenclature", nomenclature_id=nom.id))
    if not form.is_submitted():
        form.fill(item.label)
    return render_template("nomenclatures/item.html", nomenclature=nom, title=localize(nom.title, _locale()),
                           item=item, form=form)


@bp.route("/nomenclature-items/<int:item_id>/deactivate", methods=["POST"])
@access("nomenclatures.manage")
def nomenclature_item_deactivate(item_id: int):
    item = _item_or_404(item_id)
    if nomenclatures.deactivate_item(item, actor=actor()):
        flash(_("Item %(code)s deactivated: it is no longer offered; data already collected keeps it.",
                code=item.code), "ok")
    return redirect(url_for("web.nomenclature", nomenclature_id=item.nomenclature_id))


@bp.route("/nomenclature-items/<int:item_id>/reactivate", methods=["POST"])
@access("nomenclatures.manage")
def nomenclature_item_reactivate(item_id: int):
    item = _item_or_404(item_id)
    if nomenclatures.reactivate_item(item, actor=actor()):
        flash(_("Item %(code)s reactivated: it is offered again.", code=item.code), "ok")
    return redirect(url_for("web.nomenclature", nomenclature_id=item.nomenclature_id))
