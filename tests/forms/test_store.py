"""Stored definitions, rulesets and nomenclatures: sync_builtin, versioning, immutability, audited operations."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from core.audit import AuditEntry
from core.errors import Conflict, Invalid, NotFound
from forms import nomenclatures, operations
from forms.definitions import builtin, builtin_files
from forms.models import FormDefinition, NomenclatureItem, Ruleset


def audit_actions(db) -> list[str]:
    return list(db.execute(select(AuditEntry.action).order_by(AuditEntry.id)).scalars())


def count(db, model) -> int:
    return db.execute(select(func.count()).select_from(model)).scalar()


# --- sync_builtin ------------------------------------------------------------------------------------------

def test_sync_builtin_loads_everything_published(db):
    report = operations.sync_builtin()
    assert sorted(report["definitions"]) == ["segregation.class_table v1", "segregation.extended v1",
                                             "segregation.unit_form v1"]
    assert report["nomenclatures"]["nomenclatures"] == 4
    rows = operations.list_definitions()
    assert all(r.status == "published" and r.origin == "builtin" and r.published_at for r in rows)
    d = operations.load_definition("segregation.class_table", 1)
    assert d.checksum == builtin("segregation.class_table").checksum
    assert [c.value for c in nomenclatures.choices("measures")][:2] == ["class_recomposition", "random_assignment"]
    assert "form_definition.publish" in audit_actions(db)
    if list(operations.RULESET_DIR.glob("*.json")):
        assert report["rulesets"] and operations.get_ruleset(operations.builtin_rulesets()[0]["key"])


def test_sync_builtin_is_idempotent(db):
    operations.sync_builtin()
    before = (count(db, FormDefinition), count(db, Ruleset), count(db, NomenclatureItem), len(audit_actions(db)))
    report = operations.sync_builtin()
    assert report["definitions"] == [] and report["rulesets"] == []
    assert report["nomenclatures"] == {"nomenclatures": 0, "items": 0}
    assert (count(db, FormDefinition), count(db, Ruleset), count(db, NomenclatureItem),
            len(audit_actions(db))) == before


def test_sync_builtin_adds_a_version_only_when_content_changed(db, tmp_path, monkeypatch):
    operations.sync_builtin()
    for path in builtin_files():
        body = json.loads(path.read_text(encoding="utf-8"))
        if body["key"] == "segregation.extended":
            body["title"]["en"] += " (revised)"
        (tmp_path / path.name).write_text(json.dumps(body), encoding="utf-8")
    monkeypatch.setattr(operations, "builtin_files", lambda: sorted(tmp_path.glob("*.json")))
    report = operations.sync_builtin()
    assert report["definitions"] == ["segregation.extended v2"]
    assert operations.load_definition("segregation.extended").version == 2
    assert operations.load_definition("segregation.extended", 1).title["en"].endswith("monitoring")
    assert operations.get_definition_row("segregation.extended", 2).body["version"] == 2
    assert operations.sync_builtin()["definitions"] == []


def test_sync_keeps_administrators_changes_to_nomenclatures(db):
    operations.sync_builtin()
    roma = next(i for i in nomenclatures.get("ethnicities").items if i.code == "roma")
    nomenclatures.update_item(roma, {"label": {"ro": "Rromă", "en": "Roma"}})
    nomenclatures.deactivate_item(next(i for i in nomenclatures.get("measures").items if i.code == "transport"))
    operations.sync_builtin()
    assert roma.label["ro"] == "Rromă"
    assert "transport" not in [c.value for c in nomenclatures.choices("measures")]
    assert "transport" in [c.value for c in nomenclatures.choices("measures", include_inactive=True)]


# --- definitions: drafts, publishing, immutability ---------------------------------------------------------

def test_definition_draft_publish_and_new_version(db, make_user, tree):
    admin = make_user("admin", tree.ministry)
    operations.sync_builtin()
    body = builtin("segregation.extended").to_dict()
    body["sections"][0]["fields"][0]["help"] = {"ro": "Decizia directorului.", "en": "The director's decision."}
    draft = operations.create_definition(body, actor=admin)
    assert (draft.version, draft.status, draft.origin) == (2, "draft", "admin")
    with pytest.raises(Conflict):
        operations.create_definition(body, actor=admin)           # one draft per key
    assert operations.load_definition("segregation.extended").version == 1   # drafts are not served
    body["title"] = {"ro": "Monitorizare extinsă", "en": "Extended monitoring"}
    assert operations.update_definition(draft, body, actor=admin) is True
    assert operations.update_definition(draft, body, actor=admin) is False
    operations.publish_definition(draft, actor=admin)
    assert operations.load_definition("segregation.extended").title["en"] == "Extended monitoring"
    with pytest.raises(Conflict):
        operations.update_definition(draft, body, actor=admin)
    assert {"form_definition.create", "form_definition.update", "form_definition.publish"} <= set(audit_actions(db))


def test_invalid_definitions_are_refused_with_problems(db):
    body = builtin("segregation.extended").to_dict()
    body["rules"] = [{"key": "r", "expr": "__import__('os')", "fields": ["plan.exists"], "message": "x"}]
    with pytest.raises(Invalid) as e:
        operations.create_definition(body)
    assert any("invalid name" in p for p in e.value.details["problems"])
    assert count(db, FormDefinition) == 0


def test_missing_versions_are_not_found(db):
    with pytest.raises(NotFound):
        operations.load_definition("segregation.class_table")
    operations.sync_builtin()
    with pytest.raises(NotFound):
        operations.load_definition("segregation.class_table", 9)


def test_published_definitions_are_immutable_at_flush(db):
    operations.sync_builtin()
    row = operations.get_definition_row("segregation.unit_form", 1)
    row.body = dict(row.body, title="changed")
    with pytest.raises(Conflict):
        db.flush()


def test_published_definitions_cannot_be_unpublished_or_deleted(db):
    operations.sync_builtin()
    row = operations.get_definition_row("segregation.unit_form", 1)
    db.delete(row)
    with pytest.raises(Conflict):
        db.flush()


def test_published_rulesets_are_immutable_at_flush(db):
    row = operations.create_ruleset("test.rules", {"threshold": 0.5}, publish=True)
    row.status = "draft"
    with pytest.raises(Conflict):
        db.flush()


# --- rulesets ----------------------------------------------------------------------------------------------

def test_ruleset_versions_can_be_pinned(db, make_user, tree):
    admin = make_user("admin", tree.ministry)
    v1 = operations.create_ruleset("test.rules", {"threshold": 0.5, "score": {"risk": 5}}, actor=admin,
                                   publish=True)
    draft = operations.create_ruleset("test.rules", {"threshold": 0.6, "score": {"risk": 5}}, actor=admin)
    assert (v1.version, draft.version, draft.status) == (1, 2, "draft")
    assert operations.get_ruleset("test.rules").version == 1             # latest published
    assert operations.update_ruleset(draft, {"threshold": 0.4, "score": {"risk": 6}}, actor=admin)
    operations.publish_ruleset(draft, actor=admin)
    pinned = operations.ruleset_params("test.rules", 1)
    pinned["threshold"] = 99                                            # a copy: the stored row is untouched
    assert operations.ruleset_params("test.rules", 1) == {"threshold": 0.5, "score": {"risk": 5}}
    assert operations.get_ruleset("test.rules").params["threshold"] == 0.4
    with pytest.raises(Conflict):
        operations.update_ruleset(v1, {"threshold": 0.1})
    with pytest.raises(NotFound):
        operations.ruleset_params("test.rules", 3)
    assert {"ruleset.create", "ruleset.update", "ruleset.publish"} <= set(audit_actions(db))


def test_ruleset_parameters_are_checked(db, monkeypatch):
    with pytest.raises(Invalid):
        operations.create_ruleset("test.rules", ["not", "an", "object"])
    with pytest.raises(Invalid):
        operations.create_ruleset("Bad Key", {})
    monkeypatch.setitem(operations._RULESET_CHECKS, "test.checked",
                        lambda p: [] if 0 < p.get("threshold", 0) < 1 else ["threshold must be in (0, 1)"])
    with pytest.raises(Invalid) as e:
        operations.create_ruleset("test.checked", {"threshold": 2})
    assert e.value.details["problems"] == ["threshold must be in (0, 1)"]
    assert operations.create_ruleset("test.checked", {"threshold": 0.5}).version == 1


# --- nomenclatures -----------------------------------------------------------------------------------------

def test_nomenclature_operations_are_audited(db, make_user, tree):
    admin = make_user("admin", tree.ministry)
    nom = nomenclatures.create_nomenclature("school_shifts", {"ro": "Schimburi", "en": "Shifts"}, actor=admin)
    with pytest.raises(Conflict):
        nomenclatures.create_nomenclature("school_shifts", "Again")
    morning = nomenclatures.create_item(nom, "morning", {"ro": "Dimineața", "en": "Morning"}, actor=admin)
    nomenclatures.create_item(nom, "afternoon", {"ro": "După-amiaza", "en": "Afternoon"}, actor=admin)
    with pytest.raises(Conflict):
        nomenclatures.create_item(nom, "morning", "Duplicate")
    for bad in ("Morning", "a b", "", "x" * 41, "1st"):
        with pytest.raises(Invalid):
            nomenclatures.create_item(nom, bad, "Bad")
    with pytest.raises(Invalid):
        nomenclatures.create_item(nom, "evening", "")
    with pytest.raises(Invalid):
        nomenclatures.update_item(morning, {"code": "am"})
    assert nomenclatures.update_item(morning, {"position": 5}, actor=admin)
    assert nomenclatures.update_item(morning, {"position": 5}, actor=admin) is False
    assert [c.value for c in nomenclatures.choices("school_shifts")] == ["afternoon", "morning"]
    assert nomenclatures.deactivate_item(morning, actor=admin, reason="no morning shift")
    assert nomenclatures.deactivate_item(morning, actor=admin) is False
    assert [c.value for c in nomenclatures.choices("school_shifts")] == ["afternoon"]
    assert nomenclatures.reactivate_item(morning, actor=admin)
    assert nomenclatures.update_nomenclature(nom, title={"ro": "Schimburi școlare", "en": "School shifts"},
                                             actor=admin)
    actions = audit_actions(db)
    for action in ("nomenclature.create", "nomenclature.update", "nomenclature_item.create",
                   "nomenclature_item.update", "nomenclature_item.deactivate", "nomenclature_item.reactivate"):
        assert action in actions
    entry = db.execute(select(AuditEntry).where(AuditEntry.action == "nomenclature_item.deactivate")).scalar_one()
    assert entry.user_id == admin.id and entry.reason == "no morning shift"


def test_choices_fall_back_to_seeds_before_the_first_sync(db):
    assert [c.value for c in nomenclatures.choices("class_formation_reasons")] == [
        "entry_assignment", "teaching_language", "parental_choice", "transfer", "other"]
    hu = next(c for c in nomenclatures.choices("teaching_languages") if c.value == "hu")
    assert hu.data == {"ethnicity": "hungarian"}
    with pytest.raises(KeyError):
        nomenclatures.choices("no_such_list")
