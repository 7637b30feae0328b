"""The OpenAPI 3.1 document. Each path is written here by hand, next to the others; a test checks that every
API route appears in it and nothing else does."""
from __future__ import annotations

ERROR = {"$ref": "#/components/schemas/Error"}


def _err(*codes: int) -> dict:
    text = {401: "Not signed in / bad token", 403: "Role may not", 404: "Not found or not visible",
            409: "State conflict", 422: "Invalid input"}
    return {str(c): {"description": text[c], "content": {"application/json": {"schema": ERROR}}} for c in codes}


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _id(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}


PATHS: dict = {
    "/api/v1/openapi.json": {"get": {"summary": "This document", "security": [],
                                     "responses": {"200": _json({"type": "object"})}}},
    "/api/v1/me": {"get": {"summary": "The caller and their memberships",
                           "responses": {"200": _json({"$ref": "#/components/schemas/Me"}), **_err(401)}}},
    "/api/v1/nodes": {"get": {"summary": "Visible nodes with a given SIIIR or county code",
                              "parameters": [{"name": "code", "in": "query", "required": True,
                                              "schema": {"type": "string"}}],
                              "responses": {"200": _json({"type": "object", "properties": {"items": {
                                  "type": "array", "items": {"$ref": "#/components/schemas/Node"}}}}),
                                  **_err(401, 422)}}},
    "/api/v1/nodes/{node_id}": {"get": {"summary": "One node of the tree", "parameters": [_id("node_id")],
                                        "responses": {"200": _json({"$ref": "#/components/schemas/Node"}),
                                                      **_err(401, 403, 404)}}},
    "/api/v1/nodes/{node_id}/children": {"get": {
        "summary": "A node's children, paginated",
        "parameters": [_id("node_id"), {"name": "page", "in": "query", "schema": {"type": "integer"}},
                       {"name": "per_page", "in": "query", "schema": {"type": "integer", "maximum": 200}}],
        "responses": {"200": _json({"$ref": "#/components/schemas/NodePage"}), **_err(401, 403, 404, 422)}}},
    "/api/v1/jobs/{job_id}": {"get": {"summary": "Status and progress of a job the caller started",
                                      "parameters": [_id("job_id")],
                                      "responses": {"200": _json({"$ref": "#/components/schemas/Job"}),
                                                    **_err(401, 404)}}},
}

SCHEMAS = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "details": {}}}}},
    "Node": {"type": "object", "properties": {
        "id": {"type": "integer"}, "level": {"enum": ["ministry", "inspectorate", "school", "unit"]},
        "code": {"type": "string"}, "name": {"type": "string"}, "parent_id": {"type": ["integer", "null"]},
        "locality": {"type": ["string", "null"]}, "environment": {"enum": ["urban", "rural", None]},
        "languages": {"type": "array", "items": {"type": "string"}}, "active": {"type": "boolean"}}},
    "NodePage": {"type": "object", "properties": {
        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}, "page": {"type": "integer"},
        "per_page": {"type": "integer"}, "total": {"type": "integer"}, "pages": {"type": "integer"}}},
    "Me": {"type": "object", "properties": {
        "id": {"type": "integer"}, "email": {"type": "string"}, "name": {"type": "string"},
        "memberships": {"type": "array", "items": {"type": "object", "properties": {
            "node_id": {"type": "integer"}, "role": {"type": "string"}, "level": {"type": "string"}}}}}},
    "Job": {"type": "object", "properties": {
        "id": {"type": "integer"}, "kind": {"type": "string"},
        "status": {"enum": ["queued", "running", "done", "failed"]}, "progress": {"type": "integer"},
        "message": {"type": ["string", "null"]}, "result": {}, "error": {"type": ["string", "null"]}}},
}


def document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Arbor API", "version": "1.0.0",
                 "description": "Personal access tokens: `Authorization: Bearer arb_…`. Errors are "
                                "`{\"error\": {\"code\", \"message\", \"details\"}}`."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": PATHS,
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}, "schemas": SCHEMAS},
    }
