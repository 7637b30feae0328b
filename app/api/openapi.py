"""The OpenAPI 3.1 document. Each path is written here by hand, next to the others; ``tests/app/test_openapi.py``
checks that every API route appears in it with its methods, parameters and error statuses, and nothing else does.
"""
from __future__ import annotations

MAX_PER_PAGE = 200
ERROR = {"$ref": "#/components/schemas/Error"}
_ERROR_TEXT = {401: "No valid credentials: missing, unknown, revoked or expired token, or not signed in",
               403: "Visible, but the caller's role may not do this (or the token is read-only, or the CSRF "
                    "header is missing)",
               404: "Not found, or outside the caller's subtree (the two are indistinguishable)",
               409: "The current state forbids the action", 422: "Invalid input; `details` names the fields"}


def _err(*codes: int) -> dict:
    return {str(c): {"description": _ERROR_TEXT[c], "content": {"application/json": {"schema": ERROR}}}
            for c in codes}


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _id(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}


def _query(name: str, schema: dict, description: str, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


PATHS: dict = {
    "/api/v1/openapi.json": {"get": {
        "operationId": "openapi", "summary": "This document", "security": [],
        "responses": {"200": _json({"type": "object"})}}},
    "/api/v1/me": {"get": {
        "operationId": "me", "summary": "The caller and their memberships",
        "responses": {"200": _json(_ref("Me")), **_err(401)}}},
    "/api/v1/nodes": {"get": {
        "operationId": "nodes_by_code", "summary": "Nodes with a given SIIIR or county code, among those the caller "
                                                   "may browse",
        "parameters": [_query("code", {"type": "string", "minLength": 1}, "SIIIR code of a school or unit, or a "
                              "county code (CJ, IS, B)", required=True),
                       _query("level", {"enum": ["ministry", "inspectorate", "school", "unit"]}, "Only this level")],
        "responses": {"200": _json({"type": "object", "required": ["items"], "properties": {
            "items": {"type": "array", "items": _ref("Node")}}}), **_err(401, 403, 422)}}},
    "/api/v1/nodes/{node_id}": {"get": {
        "operationId": "get_node", "summary": "One node of the tree", "parameters": [_id("node_id")],
        "responses": {"200": _json(_ref("Node")), **_err(401, 403, 404)}}},
    "/api/v1/nodes/{node_id}/children": {"get": {
        "operationId": "node_children", "summary": "A node's children by name, paginated",
        "parameters": [_id("node_id"),
                       _query("page", {"type": "integer", "minimum": 1, "default": 1}, "Page number; past the last "
                              "page the list is empty"),
                       _query("per_page", {"type": "integer", "minimum": 1},
                              f"Items per page (default the server's page size); at most {MAX_PER_PAGE}, larger "
                              f"values are capped")],
        "responses": {"200": _json(_ref("NodePage")), **_err(401, 403, 404, 422)}}},
    "/api/v1/jobs/{job_id}": {"get": {
        "operationId": "get_job", "summary": "Status and progress of a job the caller started",
        "description": "Progress is live while the job runs on a worker. Jobs started by someone else are 404.",
        "parameters": [_id("job_id")],
        "responses": {"200": _json(_ref("Job")), **_err(401, 404)}}},
    "/api/v1/jobs/{job_id}/retry": {"post": {
        "operationId": "retry_job", "summary": "Run a failed (or lost) job of the caller's again",
        "description": "The job keeps its parameters and nothing of the failed attempt was saved. Needs a token "
                       "with the `write` scope, or the session cookie with an `X-CSRFToken` header.",
        "parameters": [_id("job_id")],
        "responses": {"202": _json(_ref("Job"), "Queued again"), **_err(401, 403, 404, 409)}}},
}

_NULLABLE_STR = {"type": ["string", "null"]}
_TIME = {"type": ["string", "null"], "format": "date-time"}
SCHEMAS = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message", "details"],
        "properties": {"code": {"type": "string", "examples": ["not_found", "invalid", "unauthenticated"]},
                       "message": {"type": "string"}, "details": {"description": "Field or row errors, or null"}}}}},
    "Node": {"type": "object", "properties": {
        "id": {"type": "integer"}, "level": {"enum": ["ministry", "inspectorate", "school", "unit"]},
        "code": {"type": "string"}, "name": {"type": "string"}, "parent_id": {"type": ["integer", "null"]},
        "locality": _NULLABLE_STR, "environment": {"enum": ["urban", "rural", None]},
        "languages": {"type": "array", "items": {"type": "string"}}, "active": {"type": "boolean"}}},
    "NodePage": {"type": "object", "required": ["items", "page", "per_page", "total", "pages"], "properties": {
        "items": {"type": "array", "items": _ref("Node")}, "page": {"type": "integer"},
        "per_page": {"type": "integer"}, "total": {"type": "integer"}, "pages": {"type": "integer"}}},
    "Me": {"type": "object", "properties": {
        "id": {"type": "integer"}, "email": {"type": "string"}, "name": {"type": "string"},
        "memberships": {"type": "array", "items": {"type": "object", "properties": {
            "node_id": {"type": "integer"}, "role": {"type": "string"}, "level": {"type": "string"}}}}}},
    "Job": {"type": "object", "properties": {
        "id": {"type": "integer"}, "kind": {"type": "string"}, "queue": {"enum": ["default", "exports", "emails"]},
        "node_id": {"type": "integer"}, "status": {"enum": ["queued", "running", "done", "failed"]},
        "progress": {"type": "integer", "minimum": 0, "maximum": 100}, "message": _NULLABLE_STR,
        "result": {"description": "The task's result once done"}, "error": _NULLABLE_STR,
        "attempts": {"type": "integer"}, "created_at": _TIME, "started_at": _TIME, "finished_at": _TIME}},
}

SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "arb_…",
               "description": "A personal access token from the profile page or `flask tokens create EMAIL`: "
                              "`Authorization: Bearer arb_…`. It acts with its owner's memberships and permissions; "
                              "only its SHA-256 is stored; it can be revoked and may expire. A token without the "
                              "`write` scope is refused on POST/PUT/PATCH/DELETE (403). A missing, unknown, "
                              "revoked or expired token is a 401 with `WWW-Authenticate: Bearer`."},
    "session": {"type": "apiKey", "in": "cookie", "name": "arbor_session",
                "description": "The web session cookie, for the application's own pages. Unsafe methods must also "
                               "send the page's CSRF token in an `X-CSRFToken` header (403 otherwise)."},
}


def document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Arbor API", "version": "1.0.0",
                 "description": "Every call answers in JSON. Errors are `{\"error\": {\"code\", \"message\", "
                                "\"details\"}}` with 401 (no valid credentials), 403 (visible but not permitted), "
                                "404 (missing or outside the caller's subtree), 409 (state conflict) and 422 "
                                "(invalid input)."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": PATHS,
        "components": {"securitySchemes": SECURITY_SCHEMES, "schemas": SCHEMAS},
    }
