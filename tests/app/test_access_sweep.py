"""Every route that takes an id: a user of county A asking for county B's object gets 404, anonymous gets 401
(API) or the login page (web). New id-taking routes are covered automatically through their ``access`` data."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from exports.models import Job, Report, ReportSignature
from tenants.invitations import Invitation
from tenants.models import Building, ImportBatch, Node, SchoolClass
from workflows.models import Campaign, ClassLink

# Routes with an id argument that are deliberately not loaded through ``access(load=…)``, with the reason.
UNSCOPED_ID_ROUTES = {
    "auth.revoke_token": "a token is looked up among the caller's own tokens only",
    "api.get_campaign": "campaigns are national: every campaign viewer reads them (node data below is scoped)",
    "api.launch_campaign": "campaigns are national; only the commission (at the ministry) may launch",
    "web.nomenclature": "national nomenclature, platform administrators only",
    "web.nomenclature_item_new": "national nomenclature, platform administrators only",
    "web.nomenclature_item_edit": "national nomenclature, platform administrators only",
    "web.nomenclature_item_deactivate": "national nomenclature, platform administrators only",
    "web.nomenclature_item_reactivate": "national nomenclature, platform administrators only",
}
# Values for route arguments that are not ids (so the request fails on scope, not on routing).
OTHER_ARGS = {"action": "lock"}


def objects_in_b(tree, make_user) -> dict:
    """One object of county B per model that routes can load."""
    owner = make_user("inspector", tree.b)
    job = Job(kind="noop", node_id=tree.b.id, user_id=owner.id, params={})
    batch = ImportBatch(kind="network", node_id=tree.b.id, user_id=owner.id, filename="x.csv")
    from core.db import session, utcnow
    invitation = Invitation(node_id=tree.schools["B1"].id, role="director", email="b1@test.arbor.ro", name="B1",
                            invited_by_id=owner.id, expires_at=utcnow(), nonce_hash="x" * 64)
    session.add_all([job, batch, invitation])
    session.flush()
    campaign = _launched_campaign(tree, make_user)
    link = _class_link(campaign, tree.classes["B1.1.0"])
    report, signature = _county_report(campaign, tree.b, make_user("isg", tree.b))
    return {Node: tree.schools["B1"], SchoolClass: tree.classes["B1.1.0"], Building: tree.buildings["B1.1"],
            Job: job, ImportBatch: batch, Invitation: invitation, Campaign: campaign, ClassLink: link,
            Report: report, ReportSignature: signature}


def _county_report(campaign, county, isg) -> tuple[Report, ReportSignature]:
    """A signed county-B report version (bare rows: what the routes load is the scoping, not the content)."""
    from core.db import session
    report = Report(campaign_id=campaign.id, node_id=county.id, level="inspectorate", version=1, reason="submitted",
                    ruleset_key=campaign.ruleset_key, ruleset_version=campaign.ruleset_version, data={},
                    sha256="0" * 64)
    session.add(report)
    session.flush()
    signature = ReportSignature(report_id=report.id, signer_id=isg.id, sha256=report.sha256)
    session.add(signature)
    session.flush()
    return report, signature


def _class_link(campaign, school_class) -> ClassLink:
    """A form-teacher link of a county-B class (a bare row: the sweep campaign's deadline may have passed)."""
    from core.db import session, utcnow
    from workflows import state
    st = state.state_for(campaign, school_class)
    link = ClassLink(campaign_id=campaign.id, state_id=st.id, class_id=school_class.id, unit_id=school_class.unit_id,
                     version=1, expires_at=utcnow())
    session.add(link)
    session.flush()
    return link


def _launched_campaign(tree, make_user) -> Campaign:
    """A running campaign (national: it stands for the *other* id of routes like /campaigns/<id>/nodes/<id>)."""
    from forms.operations import sync_builtin
    from workflows import campaigns
    sync_builtin()
    commission = make_user("commission", tree.ministry)
    c = campaigns.create_campaign(commission, name="Sweep", school_year=tree.year, deadline=dt.date(2026, 3, 1))
    campaigns.launch_campaign(commission, c, "Invitație")
    return c


def _other_arg(arg: str, objs: dict):
    """A real value for a route argument other than the access-loaded one: an existing object's id for
    ``<model>_id`` (so ``<int:…>`` routes match and the 404 can only come from scoping), else OTHER_ARGS."""
    if arg.endswith("_id"):
        by_arg = {f"{m.__name__.lower()}_id": o for m, o in objs.items()}
        assert arg in by_arg, f"no object for route argument {arg!r}: add its model to objects_in_b"
        return by_arg[arg].id
    return OTHER_ARGS.get(arg, "x")


def _id_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or not any(a.endswith("_id") for a in rule.arguments):
            continue
        view = app.view_functions[rule.endpoint]
        yield rule, getattr(view, "access", None)


def _url(rule, values: dict) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: str(values[m.group(1)]), rule.rule)


def _methods(rule):
    return sorted(m for m in rule.methods if m in ("GET", "POST", "PUT", "DELETE", "PATCH"))


def test_every_view_declares_access(app):
    missing = [r.endpoint for r in app.url_map.iter_rules()
               if r.endpoint != "static" and not hasattr(app.view_functions[r.endpoint], "access")]
    assert missing == []


def test_cross_county_ids_get_404(app, client, tree, make_user, login):
    objs = objects_in_b(tree, make_user)
    # The most powerful county-A staff for whom the route's permission makes sense.
    inspector = make_user("isg", tree.a)
    login(inspector)
    checked = 0
    for rule, acc in _id_rules(app):
        if rule.endpoint in UNSCOPED_ID_ROUTES:
            continue
        assert acc is not None and acc.model is not None, f"{rule.endpoint} takes an id but loads no scoped model"
        values = {acc.arg: objs[acc.model].id}
        for arg in rule.arguments - {acc.arg}:
            values[arg] = _other_arg(arg, objs)
        for method in _methods(rule):
            r = client.open(_url(rule, values), method=method, json={} if rule.rule.startswith("/api/") else None)
            assert r.status_code == 404, f"{method} {rule.rule} gave {r.status_code} for county B's object"
            checked += 1
    assert checked >= 5


def test_anonymous_callers_are_turned_away(app, tree, make_user):
    objs = objects_in_b(tree, make_user)
    anon = app.test_client()
    for rule, acc in _id_rules(app):
        if acc is None or acc.public:
            continue
        values = {a: (objs[acc.model].id if acc.model and a == acc.arg else 1) for a in rule.arguments}
        for method in _methods(rule):
            r = anon.open(_url(rule, values), method=method)
            if rule.rule.startswith("/api/"):
                assert r.status_code == 401, f"{method} {rule.rule}: {r.status_code}"
            else:
                assert r.status_code in (302, 401) and (r.status_code == 401 or "/login" in r.location), \
                    f"{method} {rule.rule}: {r.status_code}"


@pytest.mark.parametrize("path", ["/", "/search", "/jobs", "/profile", "/imports", "/api/v1/me"])
def test_pages_without_ids_need_a_signed_in_user(client, path):
    r = client.get(path)
    assert r.status_code in (302, 401)
