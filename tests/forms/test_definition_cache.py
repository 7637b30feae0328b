"""The per-process cache of parsed published definitions (forms.operations): keyed by (key, version, stored
checksum), so a draft is never served from it and a (key, version) that vanished with a rolled-back transaction and
came back with another body is parsed afresh."""
from __future__ import annotations

from sqlalchemy import event, select

from core.db import session
from forms import operations
from forms.definitions import builtin


def _body(title: str) -> dict:
    body = builtin("segregation.extended").to_dict()
    body["key"] = "test.cached_form"
    body["title"] = {"ro": title, "en": title}
    return body


def _statements(fn):
    seen = []

    def count(*_a):
        seen.append(1)
    bind = session.get_bind()
    event.listen(bind, "before_cursor_execute", count)
    try:
        result = fn()
    finally:
        event.remove(bind, "before_cursor_execute", count)
    return result, len(seen)


def test_a_published_definition_is_served_from_the_cache_with_its_checksum(db):
    row = operations.create_definition(_body("One"), publish=True)
    first = operations.load_definition(row.key, row.version)
    checksum = session.execute(select(operations.published_checksum(row.key, row.version))).scalar()
    assert checksum == row.checksum
    again, n = _statements(lambda: operations.load_definition(row.key, row.version, checksum=checksum))
    assert again is first and n == 0
    # a wrong checksum is never trusted: the row is read
    other, n = _statements(lambda: operations.load_definition(row.key, row.version, checksum="0" * 64))
    assert n == 1 and other.title["en"] == "One"


def test_drafts_are_never_cached_nor_served(db):
    row = operations.create_definition(_body("Draft one"))
    assert operations.definition_of(row).title["en"] == "Draft one"
    operations.update_definition(row, _body("Draft two"))
    assert operations.definition_of(row).title["en"] == "Draft two"
    assert session.execute(select(operations.published_checksum(row.key, row.version))).scalar() is None
    assert (row.key, row.version, row.checksum) not in operations._PUBLISHED
    operations.publish_definition(row)
    assert operations.load_definition(row.key, row.version).title["en"] == "Draft two"


def test_a_rolled_back_publication_never_serves_its_body_again(db):
    nested = session.begin_nested()
    row = operations.create_definition(_body("Rolled back"), publish=True)
    key, version, old_checksum = row.key, row.version, row.checksum
    assert operations.load_definition(key, version).title["en"] == "Rolled back"  # now cached
    nested.rollback()
    row = operations.create_definition(_body("Kept"), publish=True)
    assert (row.key, row.version) == (key, version) and row.checksum != old_checksum
    checksum = session.execute(select(operations.published_checksum(key, version))).scalar()
    assert operations.load_definition(key, version, checksum=checksum).title["en"] == "Kept"
    assert operations.load_definition(key, version).title["en"] == "Kept"
