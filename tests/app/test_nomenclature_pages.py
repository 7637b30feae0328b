"""The nomenclature pages: platform administrators list nomenclatures, add items, relabel them (never recode),
deactivate and reactivate them, every change audited; nobody else may open them."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from core.audit import AuditEntry
from core.db import session
from forms import nomenclatures
from forms.models import NomenclatureItem

ITEM = {"code": "aromanian", "label_ro": "Aromână", "label_en": "Aromanian"}


@pytest.fixture
def noms(db):
    nomenclatures.sync_seeds()
    return nomenclatures


@pytest.fixture
def admin(tree, make_user):
    return make_user("admin", tree.ministry)


@pytest.fixture
def as_user(app, login):
    def make(user):
        c = app.test_client()
        login(user, c)
        return c
    return make


def _audits(action, item):
    return [a for a in session.execute(select(AuditEntry).where(AuditEntry.action == action)).scalars()
            if a.object_id == str(item.id)]


def _item(key, code):
    nom = nomenclatures.get(key)
    return session.execute(select(NomenclatureItem).where(NomenclatureItem.nomenclature_id == nom.id,
                                                          NomenclatureItem.code == code)).scalar_one_or_none()


def _codes(key):
    return [c.value for c in nomenclatures.choices(key)]


def test_admin_lists_adds_edits_deactivates_and_reactivates(noms, admin, as_user):
    c = as_user(admin)
    r = c.get("/")
    assert b'href="/nomenclatures"' in r.data
    r = c.get("/nomenclatures")
    assert r.status_code == 200 and b"Etnii" in r.data
    ethnicities = nomenclatures.get("ethnicities")
    assert f"/nomenclatures/{ethnicities.id}".encode() in r.data

    r = c.get(f"/nomenclatures/{ethnicities.id}")
    assert r.status_code == 200 and b"roma" in r.data and b'class="table-wrap"' in r.data

    r = c.post(f"/nomenclatures/{ethnicities.id}/items", data={**ITEM, "code": " Aromanian "})
    assert r.status_code == 302
    item = _item("ethnicities", "aromanian")
    assert item.label == {"ro": "Aromână", "en": "Aromanian"} and item.active
    (created,) = _audits("nomenclature_item.create", item)
    assert created.user_id == admin.id
    assert "aromanian" in _codes("ethnicities")

    r = c.get(f"/nomenclature-items/{item.id}/edit")
    assert r.status_code == 200 and "Aromână".encode() in r.data
    r = c.post(f"/nomenclature-items/{item.id}/edit", data={"label_ro": "Armână", "label_en": "Aromanian",
                                                             "code": "changed"})
    assert r.status_code == 302
    item = session.get(NomenclatureItem, item.id)
    assert item.code == "aromanian" and item.label == {"ro": "Armână", "en": "Aromanian"}
    (upd,) = _audits("nomenclature_item.update", item)
    assert upd.new == {"label": {"ro": "Armână", "en": "Aromanian"}} and upd.user_id == admin.id

    r = c.post(f"/nomenclature-items/{item.id}/deactivate")
    assert r.status_code == 302
    assert "aromanian" not in _codes("ethnicities")
    assert len(_audits("nomenclature_item.deactivate", item)) == 1
    r = c.get(f"/nomenclatures/{ethnicities.id}")
    assert f"/nomenclature-items/{item.id}/reactivate".encode() in r.data

    r = c.post(f"/nomenclature-items/{item.id}/reactivate")
    assert r.status_code == 302
    assert "aromanian" in _codes("ethnicities")
    assert len(_audits("nomenclature_item.reactivate", item)) == 1


def test_duplicate_or_malformed_code_is_a_field_error(noms, admin, as_user):
    c = as_user(admin)
    measures = nomenclatures.get("measures")
    before = len(measures.items)
    r = c.post(f"/nomenclatures/{measures.id}/items", data={**ITEM, "code": "transport"})
    assert r.status_code == 200 and b'id="error-code"' in r.data
    r = c.post(f"/nomenclatures/{measures.id}/items", data={**ITEM, "code": "9 bad"})
    assert r.status_code == 200 and b'id="error-code"' in r.data
    r = c.post(f"/nomenclatures/{measures.id}/items", data={**ITEM, "label_ro": " "})
    assert r.status_code == 200 and b'id="error-label_ro"' in r.data
    session.expire_all()
    assert len(nomenclatures.get("measures").items) == before


@pytest.mark.parametrize("role,where", [("commission", "ministry"), ("inspector", "a"), ("director", "A1")])
def test_other_roles_are_refused(noms, tree, make_user, as_user, role, where):
    node = tree.ministry if where == "ministry" else tree.a if where == "a" else tree.schools[where]
    c = as_user(make_user(role, node))
    ethnicities = nomenclatures.get("ethnicities")
    roma = _item("ethnicities", "roma")
    assert b'href="/nomenclatures"' not in c.get("/").data
    assert c.get("/nomenclatures").status_code == 403
    assert c.get(f"/nomenclatures/{ethnicities.id}").status_code == 403
    assert c.post(f"/nomenclatures/{ethnicities.id}/items", data=ITEM).status_code == 403
    assert c.get(f"/nomenclature-items/{roma.id}/edit").status_code == 403
    assert c.post(f"/nomenclature-items/{roma.id}/deactivate").status_code == 403
    assert "roma" in _codes("ethnicities") and _item("ethnicities", "aromanian") is None


def test_anonymous_is_sent_to_login(noms, client):
    ethnicities = nomenclatures.get("ethnicities")
    for path in ("/nomenclatures", f"/nomenclatures/{ethnicities.id}"):
        r = client.get(path)
        assert r.status_code == 302 and "/login" in r.location


def test_unknown_ids_are_404(noms, admin, as_user):
    c = as_user(admin)
    assert c.get("/nomenclatures/999999").status_code == 404
    assert c.post("/nomenclatures/999999/items", data=ITEM).status_code == 404
    assert c.get("/nomenclature-items/999999/edit").status_code == 404
    assert c.post("/nomenclature-items/999999/deactivate").status_code == 404
    assert c.post("/nomenclature-items/999999/reactivate").status_code == 404
