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

# --- campaigns (app/api/campaigns.py) ----------------------------------------------------------------------
_ACTIONS = ["lock", "unlock", "submit", "reopen", "exclude", "include", "request-extended", "submit-extended"]
_CID = _id("campaign_id")
_ACTION = {"name": "action", "in": "path", "required": True, "schema": {"enum": _ACTIONS},
           "description": "lock/unlock/reopen: the level directly above; submit: the node's own level; "
                          "exclude/include (schools, units) and request-extended (units): the inspectorate; "
                          "submit-extended: the unit responsible. An unknown action is 404."}
_REASON_BODY = {"required": False, "content": {"application/json": {"schema": {"type": "object", "properties": {
    "reason": {"type": "string", "description": "Required to reopen and exclude; recorded in the history"}}}}}}
_VALUES_BODY = {"required": True, "content": {"application/json": {"schema": _ref("ValuesUpdate")}}}
_SECTION = _query("section", {"enum": ["unit", "extended"], "default": "unit"},
                  "The unit form (default) or its extended section (open once the inspectorate requests it)")
_SAVE_DESC = ("Merges `values` into the stored values and saves them as version `version + 1`. A draft save accepts "
              "incomplete data but refuses wrong types and out-of-range values (422, `details.fields` names each "
              "field). 409 when `version` is stale (`details.current_version` and `details.changed_fields` say what "
              "changed) or when the node or anything above it is locked, submitted or excluded, or the campaign is "
              "not running. 403 when the caller's role does not fill this form. Needs a token with the `write` scope "
              "or the session cookie with `X-CSRFToken`.")
PATHS.update({
    "/api/v1/campaigns": {
        "get": {"operationId": "list_campaigns", "summary": "Campaigns, newest first (campaigns are national)",
                "parameters": [_query("status", {"enum": ["draft", "running", "closed", "archived"]},
                                      "Only campaigns with this status")],
                "responses": {"200": _json({"type": "object", "required": ["items"], "properties": {
                    "items": {"type": "array", "items": _ref("Campaign")}}}), **_err(401, 403, 422)}},
        "post": {"operationId": "create_campaign", "summary": "Create a draft campaign (the commission)",
                 "description": "Pins form and ruleset versions: each pin is optional (default: the shipped form, "
                                "its latest published version).",
                 "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("CampaignNew")}}},
                 "responses": {"201": _json(_ref("Campaign"), "Created as a draft"), **_err(401, 403, 409, 422)}}},
    "/api/v1/campaigns/{campaign_id}": {"get": {
        "operationId": "get_campaign", "summary": "One campaign (visible to everyone who may view campaigns)",
        "parameters": [_CID], "responses": {"200": _json(_ref("Campaign")), **_err(401, 403, 404)}}},
    "/api/v1/campaigns/{campaign_id}/launch": {"post": {
        "operationId": "launch_campaign", "summary": "Launch a draft campaign and invite the inspectorates",
        "description": "Snapshots the participating inspectorates, schools, units and classes; later network "
                       "changes do not alter the running campaign. 409 unless the campaign is a draft.",
        "parameters": [_CID],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["message"], "properties": {
                "message": {"type": "string", "minLength": 1,
                            "description": "The invitation to the inspectorates"}}}}}},
        "responses": {"200": _json(_ref("LaunchedCampaign")), **_err(401, 403, 404, 409, 422)}}},
    "/api/v1/campaigns/{campaign_id}/nodes/{node_id}": {"get": {
        "operationId": "campaign_node", "summary": "A node's workflow state, its children's counts by state and "
                                                   "the actions the caller may take now",
        "description": "404 when the node is outside the caller's subtree, does not take part in the campaign, or "
                       "the campaign does not exist. The ministry node gives the inspectorates' counts.",
        "parameters": [_CID, _id("node_id")],
        "responses": {"200": _json(_ref("NodeState")), **_err(401, 403, 404)}}},
    "/api/v1/campaigns/{campaign_id}/nodes/{node_id}/actions/{action}": {"post": {
        "operationId": "campaign_node_action", "summary": "Apply a workflow action to a node",
        "description": "409 when the state forbids it (the message says why: locked above, children not "
                       "submitted, already submitted …); 403 when the node is visible but the caller's role may not; "
                       "422 when a required reason is missing or the node's form does not pass submit validation.",
        "parameters": [_CID, _id("node_id"), _ACTION], "requestBody": _REASON_BODY,
        "responses": {"200": _json(_ref("NodeState"), "The new state"), **_err(401, 403, 404, 409, 422)}}},
    "/api/v1/campaigns/{campaign_id}/nodes/{node_id}/history": {"get": {
        "operationId": "campaign_node_history", "summary": "The node's workflow events, oldest first",
        "parameters": [_CID, _id("node_id")],
        "responses": {"200": _json({"type": "object", "required": ["items"], "properties": {
            "items": {"type": "array", "items": _ref("WorkflowEvent")}}}), **_err(401, 403, 404)}}},
    "/api/v1/campaigns/{campaign_id}/classes/{class_id}": {"get": {
        "operationId": "campaign_class", "summary": "A class's workflow state and the caller's actions on it",
        "parameters": [_CID, _id("class_id")],
        "responses": {"200": _json(_ref("ClassState")), **_err(401, 403, 404)}}},
    "/api/v1/campaigns/{campaign_id}/classes/{class_id}/actions/{action}": {"post": {
        "operationId": "campaign_class_action", "summary": "Apply a workflow action to a class table",
        "description": "Classes are locked, unlocked and reopened by the unit responsible and submitted by the "
                       "unit; the same 403/409/422 rules as for nodes.",
        "parameters": [_CID, _id("class_id"), _ACTION], "requestBody": _REASON_BODY,
        "responses": {"200": _json(_ref("ClassState"), "The new state"), **_err(401, 403, 404, 409, 422)}}},
    "/api/v1/campaigns/{campaign_id}/classes/{class_id}/table": {
        "get": {"operationId": "get_class_table", "summary": "A class table's values and version",
                "description": "Before the first save the values are the defaults generated from the class "
                               "parameters (version 0).",
                "parameters": [_CID, _id("class_id")],
                "responses": {"200": _json(_ref("Values")), **_err(401, 403, 404)}},
        "put": {"operationId": "put_class_table", "summary": "Save a class table (optimistic version)",
                "description": _SAVE_DESC, "parameters": [_CID, _id("class_id")], "requestBody": _VALUES_BODY,
                "responses": {"200": _json(_ref("Values"), "Saved; the new version"),
                              **_err(401, 403, 404, 409, 422)}}},
    "/api/v1/campaigns/{campaign_id}/units/{unit_id}/form": {
        "get": {"operationId": "get_unit_form", "summary": "A unit form's (or extended section's) values and version",
                "parameters": [_CID, _id("unit_id"), _SECTION],
                "responses": {"200": _json(_ref("Values")), **_err(401, 403, 404, 422)}},
        "put": {"operationId": "put_unit_form", "summary": "Save a unit form or its extended section (optimistic "
                                                           "version)",
                "description": _SAVE_DESC, "parameters": [_CID, _id("unit_id"), _SECTION],
                "requestBody": _VALUES_BODY,
                "responses": {"200": _json(_ref("Values"), "Saved; the new version"),
                              **_err(401, 403, 404, 409, 422)}}},
})

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

_PIN = {"type": "object", "properties": {"key": {"type": "string"}, "version": {"type": "integer", "minimum": 1}}}
_DATE = {"type": ["string", "null"], "format": "date"}
_STATE_PROPS = {
    "level": {"enum": ["ministry", "inspectorate", "school", "unit", "class"]},
    "state": {"enum": ["not_started", "in_progress", "submitted", None]}, "locked": {"type": "boolean"},
    "excluded": {"type": "boolean"}, "exclusion_reason": _NULLABLE_STR,
    "extended": {"enum": ["none", "requested", "submitted", None], "description": "The extended section (units)"},
    "updated_at": _TIME}
_COUNT = {"type": "integer", "minimum": 0}
SCHEMAS.update({
    "CampaignNew": {"type": "object", "required": ["name", "school_year_id", "deadline"], "properties": {
        "name": {"type": "string", "minLength": 1}, "school_year_id": {"type": "integer"},
        "deadline": {"type": "string", "format": "date"}, "opens_on": {"type": "string", "format": "date"},
        "unit_form": _PIN, "class_form": _PIN, "extended_form": _PIN, "ruleset": _PIN}},
    "Campaign": {"type": "object", "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"},
        "status": {"enum": ["draft", "running", "closed", "archived"]}, "school_year_id": {"type": "integer"},
        "school_year": _NULLABLE_STR, "opens_on": _DATE, "deadline": {"type": "string", "format": "date"},
        "invitation": _NULLABLE_STR,
        "forms": {"type": "object", "properties": {"unit": _PIN, "class": _PIN, "extended": _PIN}},
        "ruleset": _PIN, "created_at": _TIME, "launched_at": _TIME, "closed_at": _TIME, "archived_at": _TIME}},
    "LaunchedCampaign": {"allOf": [_ref("Campaign"), {"type": "object", "properties": {"rows": {
        "type": "object", "description": "State rows written per level", "additionalProperties": _COUNT}}}]},
    "Counts": {"type": "object", "description": "The direct children by state (excluded ones only as excluded)",
               "properties": {**{k: _COUNT for k in ("total", "not_started", "in_progress", "submitted", "locked",
                                                      "excluded", "extended_requested", "extended_submitted")},
                              "last_activity": _TIME}},
    "NodeState": {"type": "object", "properties": {
        "campaign_id": {"type": "integer"}, "node": _ref("Node"), **_STATE_PROPS, "children": _ref("Counts"),
        "actions": {"type": "array", "items": {"type": "string"}, "description": "What the caller may do now"}}},
    "ClassState": {"type": "object", "properties": {
        "campaign_id": {"type": "integer"}, "class_id": {"type": "integer"}, "unit_id": {"type": "integer"},
        "name": {"type": "string"}, **_STATE_PROPS, "actions": {"type": "array", "items": {"type": "string"}}}},
    "ValuesUpdate": {"type": "object", "required": ["values", "version"], "properties": {
        "values": {"type": "object", "description": "Field key → value; fields left out keep their value"},
        "version": {"type": "integer", "minimum": 0, "description": "The version these changes are based on"}}},
    "Values": {"type": "object", "properties": {
        "campaign_id": {"type": "integer"}, "section": {"enum": ["unit", "class", "extended"]},
        "values": {"type": "object"}, "version": {"type": "integer", "minimum": 0},
        "state": {"type": "object", "properties": _STATE_PROPS}, "editable": {"type": "boolean"},
        "read_only_reason": _NULLABLE_STR}},
    "WorkflowEvent": {"type": "object", "properties": {
        "id": {"type": "integer"}, "action": {"type": "string"}, "actor": {"type": "string"},
        "user_id": {"type": ["integer", "null"]}, "reason": _NULLABLE_STR,
        "before": {"description": "State (or changed values) before"}, "after": {"description": "State after"},
        "at": _TIME}},
})

# --- reports (app/api/reports.py) --------------------------------------------------------------------------
_RID = _id("report_id")
PATHS.update({
    "/api/v1/campaigns/{campaign_id}/nodes/{node_id}/reports": {
        "get": {"operationId": "list_reports", "summary": "The report versions of a node in a campaign, newest first",
                "parameters": [_CID, _id("node_id"),
                               _query("limit", {"type": "integer", "minimum": 1, "default": 100},
                                      "At most this many versions (capped at 500)")],
                "responses": {"200": _json({"type": "object", "properties": {
                    "campaign_id": {"type": "integer"}, "node_id": {"type": "integer"},
                    "items": {"type": "array", "items": _ref("ReportSummary")}}}), **_err(401, 403, 404, 422)}},
        "post": {"operationId": "generate_report", "summary": "Generate a new version of the node's report now",
                 "description": "Queues a job on the `exports` queue; poll `GET /api/v1/jobs/{job_id}`: when it is "
                                "done its `report_id` names the new version. Reports are also generated at each "
                                "submission and re-issued when the data below change.",
                 "parameters": [_CID, _id("node_id")],
                 "responses": {"202": _json({"type": "object", "required": ["job_id"], "properties": {
                     "job_id": {"type": "integer"}, "status": {"enum": ["queued", "running", "done", "failed"]}}},
                     "Queued"), **_err(401, 403, 404, 409, 422)}}},
    "/api/v1/reports/{report_id}": {"get": {
        "operationId": "get_report", "summary": "One report version: its data, hash, files and signature",
        "description": "A county report reaches the commission once the inspector general has signed it: until "
                       "then a viewer from the ministry gets 403 with `details.code = awaiting_signature` here and "
                       "on the download (the versions list marks it `withheld`).",
        "parameters": [_RID], "responses": {"200": _json(_ref("Report")), **_err(401, 403, 404)}}},
    "/api/v1/reports/{report_id}/download": {"get": {
        "operationId": "download_report", "summary": "A rendered file of a report version (stored, immutable)",
        "description": "The `X-Content-SHA256` header (and the ETag) is the SHA-256 of the bytes, as stored.",
        "parameters": [_RID, _query("format", {"enum": ["pdf", "xlsx", "csv"], "default": "pdf"}, "The format")],
        "responses": {"200": {"description": "The file", "content": {
            "application/pdf": {}, "text/csv": {},
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}},
            **_err(401, 403, 404, 422)}}},
    "/api/v1/reports/{report_id}/sign": {"post": {
        "operationId": "sign_report", "summary": "The inspector general signs the latest county report version",
        "description": "Re-enter the second factor: `otp` is a current authenticator code (or, with "
                       "`\"method\": \"recovery\"`, a recovery code). The signature records signer, time and "
                       "the report's SHA-256; a re-issued version voids it. A wrong code writes nothing (422).",
        "parameters": [_RID],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["otp"], "properties": {
                "otp": {"type": "string"}, "method": {"enum": ["totp", "recovery"], "default": "totp"}}}}}},
        "responses": {"201": _json({"type": "object", "properties": {
            "report_id": {"type": "integer"}, "signature": _ref("Signature")}}, "Signed"),
            **_err(401, 403, 404, 409, 422),
            "429": {"description": "Too many second-factor attempts; `details.retry_after` says how many seconds "
                                   "to wait", "content": {"application/json": {"schema": ERROR}}}}}},
})
SCHEMAS.update({
    "ReportSummary": {"type": "object", "properties": {
        "id": {"type": "integer"}, "campaign_id": {"type": "integer"}, "node_id": {"type": "integer"},
        "level": {"enum": ["unit", "school", "inspectorate", "ministry"]}, "version": {"type": "integer"},
        "reason": {"enum": ["submitted", "on_demand", "reissued", "extended"]}, "provisional": {"type": "boolean"},
        "ruleset": _PIN, "sha256": {"type": "string", "description": "SHA-256 of the data's canonical JSON"},
        "created_at": _TIME,
        "signature_state": {"enum": ["signed", "void", "awaiting", "not_required"]}}},
    "Signature": {"type": ["object", "null"], "properties": {
        "signer": {"type": "object", "properties": {"id": {"type": "integer"}, "name": _NULLABLE_STR}},
        "signed_at": _TIME, "sha256": {"type": "string"}, "void": {"type": "boolean"}, "void_at": _TIME,
        "void_reason": _NULLABLE_STR}},
    "Report": {"allOf": [_ref("ReportSummary"), {"type": "object", "properties": {
        "latest": {"type": "boolean"},
        "files": {"type": "array", "items": {"type": "object", "properties": {
            "format": {"enum": ["pdf", "xlsx", "csv"]}, "size": {"type": "integer"}, "sha256": {"type": "string"}}}},
        "signature": _ref("Signature"),
        "data": {"type": "object", "description": "totals, indicators, risk, children, exclusions, completion, "
                                                  "version, generated_at, ruleset (exports.report_data)"}}}]},
})
_JOB_PROPS = SCHEMAS["Job"]["properties"]
_JOB_PROPS["report_id"] = {"type": "integer", "description": "A finished report job: the version it wrote"}

# --- form-teacher links (app/api/links.py) ---------------------------------------------------------------
PATHS.update({
    "/api/v1/campaigns/{campaign_id}/classes/{class_id}/links": {
        "post": {"operationId": "issue_class_link", "summary": "Issue (or re-issue) the class's form-teacher link",
                 "description": "The unit responsible only. One link per class and campaign: issuing again bumps "
                                "its version, so every earlier URL stops working. Valid `days` from now (default "
                                "14, 1–120), never past the end of the campaign's deadline day. `teacher_name` and "
                                "`teacher_email` (optional; left out: kept from the earlier issue, empty: cleared) "
                                "are the only personal data; `send_email` mails the link to the teacher. This answer "
                                "is the only one that carries the link's `url`. 409 when the campaign is not "
                                "running or the class is submitted, locked or excluded.",
                 "parameters": [_CID, _id("class_id")],
                 "requestBody": {"content": {"application/json": {"schema": _ref("LinkIssue")}}},
                 "responses": {"201": _json(_ref("IssuedLink"), "Issued"), **_err(401, 403, 404, 409, 422)}},
        "get": {"operationId": "list_class_links", "summary": "The class's link (no token, no URL)",
                "parameters": [_CID, _id("class_id")],
                "responses": {"200": _json({"type": "object", "required": ["items"], "properties": {
                    "items": {"type": "array", "items": _ref("Link")}}}), **_err(401, 403, 404)}}},
    "/api/v1/links/{link_id}": {"delete": {
        "operationId": "revoke_link", "summary": "Revoke a form-teacher link (its URL stops working)",
        "description": "409 when it is already revoked; issue it again to give the class a new link.",
        "parameters": [_id("link_id")], "responses": {"200": _json(_ref("Link"), "Revoked"),
                                                      **_err(401, 403, 404, 409)}}},
})
SCHEMAS.update({
    "LinkIssue": {"type": "object", "properties": {
        "days": {"type": "integer", "minimum": 1, "maximum": 120, "default": 14},
        "teacher_name": {"type": ["string", "null"], "maxLength": 120},
        "teacher_email": {"type": ["string", "null"], "format": "email"},
        "send_email": {"type": "boolean", "default": False}}},
    "Link": {"type": "object", "properties": {
        "id": {"type": "integer"}, "campaign_id": {"type": "integer"}, "class_id": {"type": "integer"},
        "unit_id": {"type": "integer"}, "version": {"type": "integer", "minimum": 1},
        "status": {"enum": ["issued", "opened", "saved", "submitted", "revoked", "expired"]},
        "works": {"type": "boolean", "description": "Whether the link opens now"},
        "expires_at": _TIME, "issued_at": _TIME, "emailed_at": _TIME, "opened_at": _TIME, "saved_at": _TIME,
        "submitted_at": _TIME, "reminded_at": _TIME, "revoked_at": _TIME, "teacher_name": _NULLABLE_STR,
        "teacher_email": _NULLABLE_STR}},
    "IssuedLink": {"allOf": [_ref("Link"), {"type": "object", "required": ["id", "url", "expires_at"], "properties": {
        "url": {"type": "string", "format": "uri", "description": "The link to give the form teacher"}}}]},
})

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
