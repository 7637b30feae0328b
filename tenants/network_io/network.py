"""Network files: one row per unit; a row with an empty unit_code describes a school that has no unit yet.

Planning is set-based: the scope's schools and units are loaded once into dicts (a national file has ~17,000 rows),
and only the file's unknown codes are looked up elsewhere, to tell "new" from "registered in another county".
"""
from __future__ import annotations

from sqlalchemy import select

from core.db import session
from exports.spreadsheets import N_
from tenants import operations
from tenants.models import Node
from tenants.network_io.columns import NETWORK_COLUMNS, error

CHUNK = 500
ATTRS = ("locality", "environment", "languages")
SCHOOL_ATTR_COLUMNS = {"locality": "school_locality", "environment": "school_environment",
                       "languages": "school_languages"}
_COLS = (Node.id, Node.level, Node.code, Node.name, Node.locality, Node.environment, Node.languages,
         Node.parent_id, Node.county_id)


def chunks(items, size: int = CHUNK):
    items = sorted(items)
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _elsewhere(level: str, codes: set[str]) -> dict:
    found = {}
    for chunk in chunks(codes):
        for rec in session.execute(select(*_COLS).where(Node.level == level, Node.code.in_(chunk))):
            found[rec.code] = rec
    return found


def _current(rec) -> dict:
    return {"name": rec.name, "locality": rec.locality or None, "environment": rec.environment or None,
            "languages": rec.languages or "ro"}


def _diff(rec, wanted: dict) -> dict:
    current = _current(rec)
    return {f: {"old": current[f], "new": v} for f, v in wanted.items() if current[f] != v}


def _school_values(row: dict, columns: dict, creating: bool) -> dict:
    """The school's name always; its locality/environment/languages from the school_* columns when the file has
    them, else (only for a new school) from the school's first row."""
    values = {"name": row["school_name"]}
    for attr, col in SCHOOL_ATTR_COLUMNS.items():
        if col in columns:
            values[attr] = row[col]
        elif creating:
            values[attr] = row[attr]
    return values


def _check_file(rows: list[dict], columns: dict) -> list[dict]:
    """Checks that need no database: repeated unit codes, one school described two ways, half-filled rows."""
    errors = []
    first_unit: dict[str, int] = {}
    first_school: dict[str, dict] = {}
    same = ["county_code", "school_name"] + [c for c in SCHOOL_ATTR_COLUMNS.values() if c in columns]
    for r in rows:
        if not r["ok"]:
            continue
        n = r["row"]
        if r["unit_code"] is None and r["unit_name"]:
            errors.append(error(n, columns["unit_code"], N_("the unit has a name but no SIIIR code")))
        if r["unit_code"] is not None and not r["unit_name"]:
            errors.append(error(n, columns["unit_name"], N_("the name is missing")))
        if r["unit_code"] is not None:
            if r["unit_code"] in first_unit:
                errors.append(error(n, columns["unit_code"], N_("unit code %(code)s already appears on row "
                                                                "%(first)s"), code=r["unit_code"],
                                    first=first_unit[r["unit_code"]]))
            else:
                first_unit[r["unit_code"]] = n
        seen = first_school.setdefault(r["school_code"], r)
        for col in same:
            if seen is not r and seen[col] != r[col]:
                errors.append(error(n, columns[col], N_("school %(code)s has a different %(field)s on row "
                                                        "%(first)s"), code=r["school_code"], field=columns[col],
                                    first=seen["row"]))
    return errors


def plan(scope: Node, rows: list[dict], columns: dict) -> tuple[dict, list[dict]]:
    """Plan the file against the database: creates, updates (with old/new values), unchanged, missing."""
    errors = _check_file(rows, columns)
    skip = {e["row"] for e in errors} | {r["row"] for r in rows if not r["ok"]}
    counties = {rec.code.upper(): rec for rec in session.execute(select(Node.id, Node.code)
                                                                 .where(Node.level == "inspectorate"))}
    county_code = {rec.id: code for code, rec in counties.items()}
    schools, units = {}, {}
    for rec in session.execute(select(*_COLS).where(Node.level.in_(("school", "unit")),
                                                    Node.path.startswith(scope.path, autoescape=True))):
        (schools if rec.level == "school" else units)[rec.code] = rec
    school_code_of = {rec.id: code for code, rec in schools.items()}
    file_schools = {r["school_code"] for r in rows if r.get("school_code")}
    file_units = {r["unit_code"] for r in rows if r.get("unit_code")}
    schools_elsewhere = _elsewhere("school", file_schools - schools.keys())
    units_elsewhere = _elsewhere("unit", file_units - units.keys())

    creates, updates, unchanged = [], [], 0
    school_ok: dict[str, bool] = {}
    for r in rows:
        n = r["row"]
        if r.get("county_code") is None:  # unreadable: already reported
            continue
        county = counties.get(r["county_code"])
        if county is None:
            errors.append(error(n, columns["county_code"], N_("there is no county with code %(code)s"),
                                code=r["county_code"]))
            continue
        if scope.level == "inspectorate" and county.id != scope.id:
            errors.append(error(n, columns["county_code"], N_("the row is for county %(code)s, but this import "
                                                              "covers county %(scope)s only"),
                                code=r["county_code"], scope=scope.code))
            continue
        if n in skip:
            continue
        sc = r["school_code"]
        if sc not in school_ok:
            ex = schools.get(sc)
            if sc in schools_elsewhere or (ex is not None and ex.county_id != county.id):
                errors.append(error(n, columns["school_code"], N_("school %(code)s is already registered in "
                                                                  "another county; an import never moves schools"),
                                    code=sc))
                school_ok[sc] = False
                continue
            school_ok[sc] = True
            values = _school_values(r, columns, creating=ex is None)
            if ex is None:
                creates.append({"row": n, "level": "school", "code": sc, "parent_code": county.code,
                                "name": values["name"], "fields": values})
            elif changes := _diff(ex, values):
                updates.append({"row": n, "level": "school", "id": ex.id, "code": sc, "name": ex.name,
                                "changes": changes})
            else:
                unchanged += 1
        if not school_ok[sc] or r["unit_code"] is None:
            continue
        uc = r["unit_code"]
        ex = units.get(uc)
        if uc in units_elsewhere or (ex is not None and ex.county_id != county.id):
            errors.append(error(n, columns["unit_code"], N_("unit %(code)s is already registered under a school of "
                                                            "another county; an import never moves units"),
                                code=uc))
            continue
        values = {"name": r["unit_name"], **{a: r[a] for a in ATTRS}}
        if ex is None:
            creates.append({"row": n, "level": "unit", "code": uc, "parent_code": sc, "name": values["name"],
                            "fields": values})
        elif school_code_of.get(ex.parent_id) != sc:
            errors.append(error(n, columns["school_code"], N_("unit %(code)s is registered under school %(school)s, "
                                                              "not %(wanted)s; an import never moves units"),
                                code=uc, school=school_code_of.get(ex.parent_id, "?"), wanted=sc))
        elif changes := _diff(ex, values):
            updates.append({"row": n, "level": "unit", "id": ex.id, "code": uc, "name": ex.name, "changes": changes})
        else:
            unchanged += 1

    missing = [{"level": "school", "code": code, "name": rec.name, "parent_code": county_code.get(rec.county_id)}
               for code, rec in sorted(schools.items()) if code not in file_schools]
    missing += [{"level": "unit", "code": code, "name": rec.name, "parent_code": school_code_of.get(rec.parent_id)}
                for code, rec in sorted(units.items()) if code not in file_units]
    return {"creates": creates, "updates": updates, "unchanged": unchanged, "missing": missing}, errors


def execute(plan: dict, user, progress) -> dict:
    """Create schools, then units, then apply updates — each through tenants.operations, which audits."""
    creates, updates = plan["creates"], plan["updates"]
    total = max(1, len(creates) + len(updates))
    done = 0

    def tick():
        nonlocal done
        done += 1
        if done % 200 == 0:
            progress(5 + 90 * done // total, f"{done}/{total}")

    counties = {n.code.upper(): n for n in session.execute(select(Node).where(Node.level == "inspectorate"))
                .scalars()}
    parents: dict[str, Node] = {}
    for c in (c for c in creates if c["level"] == "school"):
        f = c["fields"]
        parents[c["code"]] = operations.create_node(
            level="school", code=c["code"], name=f["name"], parent=counties[c["parent_code"]], actor=user,
            locality=f["locality"], environment=f["environment"], languages=f["languages"])
        tick()
    unit_creates = [c for c in creates if c["level"] == "unit"]
    for chunk in chunks({c["parent_code"] for c in unit_creates} - parents.keys()):
        for node in session.execute(select(Node).where(Node.level == "school", Node.code.in_(chunk))).scalars():
            parents[node.code] = node
    for c in unit_creates:
        f = c["fields"]
        operations.create_node(level="unit", code=c["code"], name=f["name"], parent=parents[c["parent_code"]],
                               actor=user, locality=f["locality"], environment=f["environment"],
                               languages=f["languages"])
        tick()
    changed = 0
    by_id = {u["id"]: u for u in updates}
    for chunk in chunks(by_id):
        for node in session.execute(select(Node).where(Node.id.in_(chunk))).scalars():
            changes = {f: ch["new"] for f, ch in by_id[node.id]["changes"].items()}
            changed += operations.update_node(node, changes, actor=user)
            tick()
    return {"created": len(creates), "updated": changed}


def export_rows(scope: Node) -> tuple[list[str], list[list]]:
    """The scope's network in the import's columns, one row per unit (schools without units get one row)."""
    county_code = dict(session.execute(select(Node.id, Node.code).where(Node.level == "inspectorate")).all())
    recs = session.execute(select(*_COLS).where(Node.level.in_(("school", "unit")),
                                                Node.path.startswith(scope.path, autoescape=True))).all()
    if scope.level == "unit":
        recs += session.execute(select(*_COLS).where(Node.id == scope.parent_id)).all()
    schools = sorted((r for r in recs if r.level == "school"), key=lambda r: (county_code.get(r.county_id), r.code))
    units: dict[int, list] = {}
    for r in recs:
        if r.level == "unit":
            units.setdefault(r.parent_id, []).append(r)
    rows = []
    for s in schools:
        for u in sorted(units.get(s.id, []), key=lambda u: u.code) or [None]:
            unit_cells = [u.code, u.name, u.locality, u.environment, u.languages] if u else [None] * 5
            rows.append([county_code.get(s.county_id), s.code, s.name, *unit_cells, s.locality, s.environment,
                         s.languages])
    return [c.name for c in NETWORK_COLUMNS], rows
