"""Tasks that exist only for the job tests. ``run_worker`` imports them into the worker process too."""
from __future__ import annotations

import os
import time
from pathlib import Path

from core.db import session
from core.errors import Invalid
from exports.jobs import task
from tenants import operations


def _school(county_id: int, code: str, name: str):
    county = operations.get_node_or_404(county_id)
    node = operations.create_node(level="school", code=code, name=name, parent=county)
    session.flush()
    return node


@task("tests.add_school", queue="exports")
def add_school(job, progress, *, county_id: int, code: str, name: str, fail: bool = False,
               fail_first: bool = False) -> dict:
    """Write a school, then fail if asked (always, or on the first attempt only)."""
    progress(30, "writing")
    node = _school(county_id, code, name)
    progress(80, "written")
    if fail or (fail_first and job.attempts == 1):
        raise RuntimeError("simulated crash after writing (secret detail)")
    return {"node_id": node.id}


@task("tests.gated", queue="exports")
def gated(job, progress, *, county_id: int, code: str, name: str, gate: str, pidfile: str | None = None,
          write_first: bool = False, timeout: float = 60) -> dict:
    """Report 50 %, then wait until the file ``gate`` exists; write the school before or after waiting."""
    if pidfile:
        Path(pidfile).write_text(str(os.getpid()))
    node = _school(county_id, code, name) if write_first else None
    progress(50, "halfway")
    deadline = time.monotonic() + timeout
    while not os.path.exists(gate):
        if time.monotonic() > deadline:
            raise TimeoutError("the gate never opened")
        time.sleep(0.05)
    node = node or _school(county_id, code, name)
    progress(90, "finishing")
    return {"node_id": node.id}


@task("tests.app_context")
def app_context(job, progress) -> dict:
    """Reads the Flask app: jobs run in an app context in-process as under ``flask worker``."""
    from flask import current_app
    return {"env": current_app.config["ENV"]}


@task("tests.invalid")
def invalid(job, progress) -> dict:
    raise Invalid("row 3: the SIIIR code is missing")
