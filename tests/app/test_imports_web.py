"""The import pages: upload → preview → apply (a job) or discard; exports; scoping and ownership of batches."""
from __future__ import annotations

import io

import openpyxl
import pytest
from sqlalchemy import func, select

from core.audit import AuditEntry
from core.db import session
from exports.models import Job
from tenants.models import ImportBatch, Node, SchoolClass
from tests.tenants.test_network_io import NET, NEW_SCHOOL, STRUCT, csv_bytes


def counts():
    return tuple(session.execute(select(func.count()).select_from(m)).scalar_one()
                 for m in (Node, SchoolClass, AuditEntry))


def upload(client, url: str, data: bytes, filename: str, **fields):
    return client.post(url, data={"file": (io.BytesIO(data), filename), **fields},
                       content_type="multipart/form-data")


def batch_id(response) -> int:
    assert response.status_code == 302, response.status_code
    assert "/imports/" in response.location
    return int(response.location.rstrip("/").rsplit("/", 1)[-1])


@pytest.fixture
def inspector(tree, make_user, login):
    user = make_user("inspector", tree.a)
    login(user)
    return user


def test_upload_preview_apply_creates_the_nodes(client, tree, inspector):
    r = upload(client, f"/nodes/{tree.a.id}/import/network", csv_bytes([NEW_SCHOOL]), "retea.csv")
    bid = batch_id(r)
    page = client.get(f"/imports/{bid}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Școala Nouă — corp principal" in html and "1310000002" in html and 'class="table-wrap"' in html
    r = client.post(f"/imports/{bid}/apply")
    assert r.status_code == 302 and "/jobs/" in r.location
    job = session.get(Job, int(r.location.rsplit("/", 1)[-1]))
    session.refresh(job)
    assert job.status == "done", job.error
    assert job.result == {"import_batch_id": bid, "created": 2, "updated": 0}
    assert client.get(r.location).status_code == 200
    school = session.execute(select(Node).where(Node.level == "school", Node.code == "1300000001")).scalar_one()
    assert school.parent_id == tree.a.id
    batch = session.get(ImportBatch, bid)
    session.refresh(batch)
    assert batch.status == "applied"
    # Applying again is refused without a new job.
    jobs_before = session.execute(select(func.count()).select_from(Job)).scalar_one()
    r = client.post(f"/imports/{bid}/apply")
    assert r.status_code == 302 and r.location.endswith(f"/imports/{bid}")
    assert session.execute(select(func.count()).select_from(Job)).scalar_one() == jobs_before


def test_reupload_of_an_export_is_a_noop(client, tree, inspector):
    for fmt in ("csv", "xlsx"):
        r = client.get(f"/nodes/{tree.a.id}/export/network.{fmt}")
        assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
        before = counts()
        bid = batch_id(upload(client, f"/nodes/{tree.a.id}/import/network", r.data, f"network.{fmt}"))
        html = client.get(f"/imports/{bid}").get_data(as_text=True)
        assert session.get(ImportBatch, bid).plan["summary"]["creates"] == 0
        assert 'id="noop"' in html
        r = client.post(f"/imports/{bid}/apply")
        assert session.get(Job, int(r.location.rsplit("/", 1)[-1])).status == "done"
        assert counts() == before


def test_invalid_file_shows_row_errors_and_cannot_be_applied(client, tree, inspector):
    rows = [["CB"] + NEW_SCHOOL[1:], ["CA", "123", "X", "1310000002", "U", "", "urbn", "ro"]]
    before = counts()
    bid = batch_id(upload(client, f"/nodes/{tree.a.id}/import/network", csv_bytes(rows), "bad.csv"))
    html = client.get(f"/imports/{bid}").get_data(as_text=True)
    assert "section-errors" in html and 'id="invalid"' in html
    assert "123" in html and "urbn" in html and "CB" in html and "<td>3</td>" in html
    r = client.post(f"/imports/{bid}/apply")
    assert r.status_code == 302 and session.get(ImportBatch, bid).status == "invalid"
    assert session.execute(select(func.count()).select_from(Job)).scalar_one() == 0
    assert counts() == before


def test_corrupt_xlsx_upload_gets_a_clear_page(client, tree, inspector):
    bid = batch_id(upload(client, f"/nodes/{tree.a.id}/import/network", b"PK\x03\x04broken", "retea.xlsx"))
    html = client.get(f"/imports/{bid}?show=errors").get_data(as_text=True)
    batch = session.get(ImportBatch, bid)
    assert batch.status == "invalid" and 'id="invalid"' in html
    assert batch.errors[0]["row"] is None and "damaged" in batch.errors[0]["message"]


def test_upload_form_needs_a_csv_or_xlsx_file(client, tree, inspector):
    r = client.get(f"/nodes/{tree.a.id}/import/network")
    assert r.status_code == 200 and "county_code" in r.get_data(as_text=True)
    r = upload(client, f"/nodes/{tree.a.id}/import/network", b"x", "notes.docx")
    assert r.status_code == 200
    assert session.execute(select(func.count()).select_from(ImportBatch)).scalar_one() == 0


def test_discard(client, tree, inspector):
    bid = batch_id(upload(client, f"/nodes/{tree.a.id}/import/network", csv_bytes([NEW_SCHOOL]), "n.csv"))
    before = counts()
    r = client.post(f"/imports/{bid}/discard")
    assert r.status_code == 302 and r.location.endswith("/imports")
    assert session.get(ImportBatch, bid).status == "discarded" and counts() == before
    assert client.post(f"/imports/{bid}/apply").status_code == 302
    assert session.execute(select(func.count()).select_from(Job)).scalar_one() == 0
    listing = client.get("/imports").get_data(as_text=True)
    assert "n.csv" in listing and f"/nodes/{tree.a.id}/import/network" in listing


def test_structure_upload_for_a_chosen_year(client, tree, make_user, login):
    director = make_user("director", tree.schools["A1"])
    login(director)
    unit = tree.units["A1.2"]
    page = client.get(f"/nodes/{tree.schools['A1'].id}/import/structure")
    assert page.status_code == 200 and tree.year.name in page.get_data(as_text=True)
    data = csv_bytes([[unit.code, "5A", "V", "ro", "day", "30", "nu"], [unit.code, "8C", "VIII", "ro", "day", "17",
                                                                       "nu"]], header=STRUCT)
    bid = batch_id(upload(client, f"/nodes/{tree.schools['A1'].id}/import/structure", data, "clase.csv",
                          school_year=str(tree.year.id)))
    batch = session.get(ImportBatch, bid)
    assert batch.school_year_id == tree.year.id and batch.plan["summary"]["creates"] == 1
    html = client.get(f"/imports/{bid}?show=updates").get_data(as_text=True)
    assert "21 → <strong>30</strong>" in html
    r = client.post(f"/imports/{bid}/apply")
    assert session.get(Job, int(r.location.rsplit("/", 1)[-1])).status == "done"
    assert session.get(SchoolClass, tree.classes["A1.2.1"].id).pupils == 30
    # The director may not import the network, and sees only his school's structure.
    assert client.get(f"/nodes/{tree.schools['A1'].id}/import/network").status_code == 403
    assert client.get(f"/nodes/{tree.schools['A2'].id}/import/structure").status_code == 404
    r = client.get(f"/nodes/{tree.schools['A1'].id}/export/structure.xlsx?year={tree.year.id}")
    ws = openpyxl.load_workbook(io.BytesIO(r.data)).worksheets[0]
    assert [c.value for c in ws[1]][:3] == ["unit_code", "unit_name", "class_name"] and ws.max_row == 1 + 5


def test_batches_of_another_county_or_user_are_404(client, tree, make_user, login, inspector):
    other = make_user("inspector", tree.b)
    theirs = ImportBatch(kind="network", node_id=tree.b.id, user_id=other.id, filename="b.csv")
    colleague = make_user("inspector", tree.a)
    same_county = ImportBatch(kind="network", node_id=tree.a.id, user_id=colleague.id, filename="a.csv")
    session.add_all([theirs, same_county])
    session.flush()
    for b in (theirs, same_county):
        assert client.get(f"/imports/{b.id}").status_code == 404
        assert client.post(f"/imports/{b.id}/apply").status_code == 404
        assert client.post(f"/imports/{b.id}/discard").status_code == 404
    assert client.get(f"/nodes/{tree.b.id}/export/network.csv").status_code == 404
    assert client.get(f"/nodes/{tree.a.id}/export/network.pdf").status_code == 404
    assert "b.csv" not in client.get("/imports").get_data(as_text=True)


def test_network_import_only_at_country_or_county_level(client, tree, inspector):
    assert client.get(f"/nodes/{tree.schools['A1'].id}/import/network").status_code == 422


def test_preview_lists_are_paginated(client, tree, inspector):
    rows = [["CA", "1300000001", "Școala Nouă", f"13{i:03d}00002", f"Unitatea {i}", "", "", ""] for i in range(150)]
    bid = batch_id(upload(client, f"/nodes/{tree.a.id}/import/network", csv_bytes(rows, header=NET), "n.csv"))
    first = client.get(f"/imports/{bid}?show=creates").get_data(as_text=True)
    second = client.get(f"/imports/{bid}?show=creates&page=2").get_data(as_text=True)
    assert "Unitatea 98<" in first and "Unitatea 99<" not in first
    assert "Unitatea 99<" in second and "Unitatea 149<" in second


def test_row_cap_comes_from_the_configuration(app, client, tree, inspector, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_MAX_ROWS", 1)
    bid = batch_id(upload(client, f"/nodes/{tree.a.id}/import/network", csv_bytes([NEW_SCHOOL, NEW_SCHOOL]), "n.csv"))
    batch = session.get(ImportBatch, bid)
    assert batch.status == "invalid" and batch.errors[0]["params"] == {"max": 1}


def test_apply_job_refuses_when_the_tree_changed_and_writes_nothing(client, tree, inspector):
    from tenants import operations
    bid = batch_id(upload(client, f"/nodes/{tree.a.id}/import/network", csv_bytes([NEW_SCHOOL]), "n.csv"))
    operations.create_node(level="unit", code="1310000002", name="Între timp",
                           parent=session.get(Node, tree.schools["A2"].id))
    session.commit()
    before = counts()
    r = client.post(f"/imports/{bid}/apply")
    job = session.get(Job, int(r.location.rsplit("/", 1)[-1]))
    assert job.status == "failed" and "never moves units" in job.error and "Upload the file again" in job.error
    assert counts() == before
    assert session.execute(select(Node).where(Node.code == "1300000001")).scalar() is None
    html = client.get(f"/imports/{bid}").get_data(as_text=True)
    assert f"/jobs/{job.id}" in html and "never moves units" in html
