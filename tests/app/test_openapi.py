"""The OpenAPI document and the API routes describe the same thing: every route under /api/v1 is documented with
its methods, path parameters and the error statuses its access rule can produce, and every documented path exists.
A new API route that is not written into ``app/api/openapi.py`` fails here."""
from __future__ import annotations

import json
import re

import pytest

PREFIX = "/api/v1"
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def doc(app):
    r = app.test_client().get(f"{PREFIX}/openapi.json")
    assert r.status_code == 200 and r.is_json
    return r.json


def api_routes(app) -> dict[tuple[str, str], object]:
    """(OpenAPI path, method) → the rule, for every API route of the app."""
    out = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in {m.lower() for m in rule.methods} & METHODS:
            out[(path, method)] = rule
    return out


def documented(doc) -> dict[tuple[str, str], dict]:
    return {(path, method): op for path, item in doc["paths"].items() for method, op in item.items()
            if method in METHODS}


def test_the_document_is_public_openapi_3_1(client, doc):
    assert doc["openapi"] == "3.1.0" and doc["info"]["title"]
    assert client.get(f"{PREFIX}/openapi.json").headers["Content-Type"].startswith("application/json")


def test_every_api_route_is_documented_and_every_documented_path_exists(app, doc):
    routes, ops = api_routes(app), documented(doc)
    assert len(routes) >= 7
    assert sorted(set(routes) - set(ops)) == [], "routes missing from app/api/openapi.py"
    assert sorted(set(ops) - set(routes)) == [], "documented operations with no route"


def test_operations_match_their_views(app, doc):
    for (path, method), op in documented(doc).items():
        rule = api_routes(app)[(path, method)]
        assert op["operationId"] == rule.endpoint.removeprefix("api."), path
        assert op.get("summary"), f"{method} {path} has no summary"
        params = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        assert params == set(rule.arguments), f"{method} {path}: path parameters {params} vs {rule.arguments}"
        for p in op.get("parameters", []):
            assert p["in"] != "path" or p["required"] is True
        assert any(code.startswith("2") for code in op["responses"]), f"{method} {path} has no success response"


def test_documented_errors_follow_each_views_access_rule(app, doc):
    for (path, method), op in documented(doc).items():
        acc = app.view_functions[api_routes(app)[(path, method)].endpoint].access
        codes = set(op["responses"])
        where = f"{method.upper()} {path}"
        if acc.public:
            assert op.get("security") == [], f"{where} is public but documented as needing credentials"
            continue
        assert "security" not in op, f"{where} overrides the document's security"
        assert "401" in codes, f"{where} can answer 401"
        if acc.model is not None:
            assert "404" in codes, f"{where} loads a scoped object: 404"
        if acc.permission is not None or method != "get":
            assert "403" in codes, f"{where} can answer 403 (permission, read-only token or CSRF)"
        for code in codes - {"200", "201", "202", "204"}:
            assert op["responses"][code]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"}, f"{where} {code} is not the error envelope"


def test_every_reference_resolves(doc):
    refs = re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(doc))
    assert refs and set(refs) <= set(doc["components"]["schemas"])


def test_authentication_is_documented(doc):
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearer"]["type"] == "http" and schemes["bearer"]["scheme"] == "bearer"
    assert "Authorization: Bearer" in schemes["bearer"]["description"]
    assert schemes["session"]["in"] == "cookie" and "X-CSRFToken" in schemes["session"]["description"]
    assert doc["security"] == [{"bearer": []}, {"session": []}]
    error = doc["components"]["schemas"]["Error"]["properties"]["error"]
    assert set(error["required"]) == {"code", "message", "details"}
