"""Nomenclatures: lists of choices (ethnicities, teaching languages, measures, …) that platform administrators
manage. Shipped seeds live in ``forms/builtin/nomenclatures/*.json``; the database rows are the live lists.

Item codes are what collected data stores, so a code never changes and items are deactivated, never deleted.
Every write audits and flushes; the caller commits.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache

from sqlalchemy import func, select

from core import audit
from core.db import session
from core.errors import Conflict, Invalid
from forms.definitions import BUILTIN_DIR, Choice, _label_ok
from forms.expressions import KEY_RE
from forms.models import Nomenclature, NomenclatureItem

SEED_DIR = BUILTIN_DIR / "nomenclatures"
CODE_RE = re.compile(r"[a-z][a-z0-9_]{0,39}\Z")


@lru_cache(maxsize=1)
def seeds() -> dict[str, dict]:
    """The shipped nomenclatures, by key."""
    out = {}
    for path in sorted(SEED_DIR.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        out[data["key"]] = data
    return out


def get(key: str) -> Nomenclature | None:
    return session.execute(select(Nomenclature).where(Nomenclature.key == key)).scalar_one_or_none()


def choices(key: str, *, include_inactive: bool = False) -> list[Choice]:
    """The choices of nomenclature ``key`` in order: the database rows, or the shipped seed before the first
    :func:`sync_seeds`. Raises KeyError for an unknown nomenclature."""
    nom = get(key)
    if nom is not None:
        q = select(NomenclatureItem).where(NomenclatureItem.nomenclature_id == nom.id)
        if not include_inactive:
            q = q.where(NomenclatureItem.active.is_(True))
        rows = session.execute(q.order_by(NomenclatureItem.position, NomenclatureItem.id)).scalars()
        return [Choice(r.code, r.label, dict(r.data or {})) for r in rows]
    seed = seeds().get(key)
    if seed is None:
        raise KeyError(f"unknown nomenclature {key!r}")
    return [Choice(i["code"], i["label"], dict(i.get("data") or {})) for i in seed["items"]]


def _who(actor) -> dict:
    return {"user": actor, "actor": None if actor is not None else "system"}


def _check_label(label, what: str = "label") -> None:
    if not _label_ok(label):
        raise Invalid(f"the {what} is missing", details={what: "required"})


# --- operations --------------------------------------------------------------------------------------------

def create_nomenclature(key: str, title, *, actor=None) -> Nomenclature:
    if not isinstance(key, str) or not KEY_RE.match(key) or "." in key or len(key) > 60:
        raise Invalid("a nomenclature key is a lower-case code", details={"key": "invalid"})
    _check_label(title, "title")
    if get(key) is not None:
        raise Conflict(f"nomenclature {key} already exists")
    nom = Nomenclature(key=key, title=title)
    session.add(nom)
    session.flush()
    audit.record("nomenclature.create", obj=nom, new={"key": key, "title": title}, **_who(actor))
    return nom


def update_nomenclature(nom: Nomenclature, *, title, actor=None) -> bool:
    _check_label(title, "title")
    if title == nom.title:
        return False
    old, nom.title = nom.title, title
    session.flush()
    audit.record("nomenclature.update", obj=nom, old={"title": old}, new={"title": title}, **_who(actor))
    return True


def create_item(nom: Nomenclature, code: str, label, *, data: dict | None = None, position: int | None = None,
                actor=None) -> NomenclatureItem:
    if not isinstance(code, str) or not CODE_RE.match(code):
        raise Invalid("an item code is a lower-case code of at most 40 characters", details={"code": "invalid"})
    _check_label(label)
    if data is not None and not isinstance(data, dict):
        raise Invalid("item data must be an object", details={"data": "invalid"})
    exists = session.execute(select(NomenclatureItem.id).where(NomenclatureItem.nomenclature_id == nom.id,
                                                               NomenclatureItem.code == code)).first()
    if exists:
        raise Conflict(f"{nom.key} already has an item {code}")
    if position is None:
        last = session.execute(select(func.max(NomenclatureItem.position))
                               .where(NomenclatureItem.nomenclature_id == nom.id)).scalar()
        position = 0 if last is None else last + 1
    item = NomenclatureItem(nomenclature_id=nom.id, code=code, label=label, data=data or {}, position=position,
                            active=True)
    session.add(item)
    session.flush()
    audit.record("nomenclature_item.create", obj=item,
                 new={"nomenclature": nom.key, "code": code, "label": label, "data": data or {}}, **_who(actor))
    return item


ITEM_FIELDS = ("label", "data", "position")


def update_item(item: NomenclatureItem, changes: dict, *, actor=None) -> bool:
    """Change an item's label, data or position (never its code). Returns True when something changed."""
    if "code" in changes and changes["code"] != item.code:
        raise Invalid("an item's code never changes; deactivate it and add a new one", details={"code": "fixed"})
    if "label" in changes:
        _check_label(changes["label"])
    if "data" in changes and not isinstance(changes["data"], dict):
        raise Invalid("item data must be an object", details={"data": "invalid"})
    if "position" in changes and (isinstance(changes["position"], bool) or not isinstance(changes["position"], int)):
        raise Invalid("position must be an integer", details={"position": "invalid"})
    old = {f: getattr(item, f) for f in ITEM_FIELDS}
    for f in ITEM_FIELDS:
        if f in changes:
            setattr(item, f, changes[f])
    new = {f: getattr(item, f) for f in ITEM_FIELDS}
    if new == old:
        return False
    session.flush()
    audit.record("nomenclature_item.update", obj=item, old={k: v for k, v in old.items() if new[k] != v},
                 new={k: v for k, v in new.items() if old[k] != v}, **_who(actor))
    return True


def deactivate_item(item: NomenclatureItem, *, actor=None, reason: str | None = None) -> bool:
    """Hide the item from new choices; data already collected keeps its code."""
    return _set_active(item, False, actor, reason)


def reactivate_item(item: NomenclatureItem, *, actor=None, reason: str | None = None) -> bool:
    return _set_active(item, True, actor, reason)


def _set_active(item: NomenclatureItem, active: bool, actor, reason) -> bool:
    if item.active == active:
        return False
    item.active = active
    session.flush()
    audit.record("nomenclature_item." + ("reactivate" if active else "deactivate"), obj=item,
                 old={"active": not active}, new={"active": active}, reason=reason, **_who(actor))
    return True


def sync_seeds(*, actor=None) -> dict:
    """Create shipped nomenclatures and items that are missing; never touch what administrators changed.
    Idempotent. Returns {"nomenclatures": n created, "items": n created}."""
    created = {"nomenclatures": 0, "items": 0}
    for key, seed in seeds().items():
        nom = get(key)
        if nom is None:
            nom = create_nomenclature(key, seed["title"], actor=actor)
            created["nomenclatures"] += 1
        have = set(session.execute(select(NomenclatureItem.code)
                                   .where(NomenclatureItem.nomenclature_id == nom.id)).scalars())
        for item in seed["items"]:
            if item["code"] not in have:
                create_item(nom, item["code"], item["label"], data=item.get("data"), actor=actor)
                created["items"] += 1
    return created
