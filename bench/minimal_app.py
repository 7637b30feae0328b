"""The reference of the HTTP load benchmark: the least a Flask + SQLAlchemy app can do for the same requests.

``GET /values/<id>`` reads one ``campaign_values`` row, ``PUT /values/<id>`` writes one (``UPDATE … WHERE version =
:expected``, the same optimistic check as the real save), each checking a bearer token by equality. No sessions,
permissions, forms engine, audit or workflow: what the real API costs beyond this is the figure. Run under the same
gunicorn settings as the real app (``bench/load.py`` starts both); the database comes from ``BENCH_DATABASE_URL``.
"""
from __future__ import annotations

import json
import os

from flask import Flask, abort, jsonify, request
from sqlalchemy import create_engine, text

engine = create_engine(os.environ["BENCH_DATABASE_URL"], pool_size=2, max_overflow=0)
TOKEN = os.environ.get("BENCH_TOKEN", "")
app = Flask(__name__)


def _authorised() -> None:
    if request.headers.get("Authorization", "") != f"Bearer {TOKEN}":
        abort(401)


@app.get("/values/<int:row_id>")
def get_values(row_id: int):
    _authorised()
    with engine.connect() as c:
        row = c.execute(text("SELECT values, version FROM campaign_values WHERE id = :id"), {"id": row_id}).first()
    if row is None:
        abort(404)
    return jsonify({"values": row.values, "version": row.version})


@app.put("/values/<int:row_id>")
def put_values(row_id: int):
    _authorised()
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("values"), dict) or not isinstance(body.get("version"),
                                                                                                 int):
        abort(422)
    with engine.begin() as c:
        done = c.execute(text("UPDATE campaign_values SET values = CAST(:v AS json), version = version + 1, "
                              "updated_at = now() WHERE id = :id AND version = :version"),
                         {"v": json.dumps(body["values"]), "id": row_id, "version": body["version"]}).rowcount
    if done != 1:
        return jsonify({"error": "stale version"}), 409
    return jsonify({"version": body["version"] + 1})
