"""School-year structure files: one row per class of a unit (classes and pupils for the chosen school year).

A class is matched by unit and name, ignoring letter case ("5a" is class "5A"); an import never renames a class.
"""
from __future__ import annotations

from sqlalchemy import select

from core.db import session
from exports.spreadsheets import N_
from tenants import operations
from tenants.models import Node, SchoolClass, SchoolYear
from tenants.network_io.columns import ROMAN, STRUCTURE_COLUMNS, error
from tenants.network_io.network import chunks

FIELDS = ("grade_level", "teaching_language", "education_form", "pupils", "combined")


def _key(name: str) -> str:
    return " ".join(name.split()).casefold()


def _check_file(rows: list[dict], columns: dict) -> list[dict]:
    errors, first = [], {}
    for r in rows:
        if not r["ok"]:
            continue
        key = (r["unit_code"], _key(r["class_name"]))
        if key in first:
            errors.append(error(r["row"], columns["class_name"], N_("class %(name)s of unit %(code)s already "
                                                                    "appears on row %(first)s"),
                                name=r["class_name"], code=r["unit_code"], first=first[key]))
        else:
            first[key] = r["row"]
    return errors


def _classes_in(scope: Node, year_id: int):
    return session.execute(
        select(SchoolClass.id, SchoolClass.unit_id, SchoolClass.name, *(getattr(SchoolClass, f) for f in FIELDS),
               Node.code.label("unit_code"), Node.name.label("unit_name"))
        .join(Node, Node.id == SchoolClass.unit_id)
        .where(SchoolClass.school_year_id == year_id, Node.path.startswith(scope.path, autoescape=True))
        .order_by(Node.code, SchoolClass.grade_level, SchoolClass.name)).all()


def plan(scope: Node, year: SchoolYear, rows: list[dict], columns: dict) -> tuple[dict, list[dict]]:
    errors = _check_file(rows, columns)
    skip = {e["row"] for e in errors} | {r["row"] for r in rows if not r["ok"]}
    units = {rec.code: rec for rec in session.execute(
        select(Node.id, Node.code, Node.name).where(Node.level == "unit",
                                                    Node.path.startswith(scope.path, autoescape=True)))}
    existing = {(rec.unit_id, _key(rec.name)): rec for rec in _classes_in(scope, year.id)}
    seen: set[int] = set()
    creates, updates, unchanged = [], [], 0
    for r in rows:
        n = r["row"]
        if n in skip:
            continue
        unit = units.get(r["unit_code"])
        if unit is None:  # unknown and outside the scope read the same: no hint about other counties
            errors.append(error(n, columns["unit_code"], N_("there is no unit with code %(code)s in %(scope)s"),
                                code=r["unit_code"], scope=scope.name))
            continue
        values = {f: r[f] for f in FIELDS}
        ex = existing.get((unit.id, _key(r["class_name"])))
        if ex is None:
            creates.append({"row": n, "unit_id": unit.id, "unit_code": unit.code, "unit_name": unit.name,
                            "name": r["class_name"], "fields": values})
            continue
        seen.add(ex.id)
        changes = {f: {"old": getattr(ex, f), "new": v} for f, v in values.items() if getattr(ex, f) != v}
        if changes:
            updates.append({"row": n, "id": ex.id, "unit_code": unit.code, "unit_name": unit.name, "name": ex.name,
                            "changes": changes})
        else:
            unchanged += 1
    missing = [{"unit_code": rec.unit_code, "unit_name": rec.unit_name, "name": rec.name,
                "grade_level": rec.grade_level, "pupils": rec.pupils}
               for rec in existing.values() if rec.id not in seen]
    return {"creates": creates, "updates": updates, "unchanged": unchanged, "missing": missing}, errors


def execute(plan: dict, year: SchoolYear, user, progress) -> dict:
    creates, updates = plan["creates"], plan["updates"]
    total = max(1, len(creates) + len(updates))
    done = 0
    units: dict[int, Node] = {}
    for chunk in chunks({c["unit_id"] for c in creates}):
        units.update({n.id: n for n in session.execute(select(Node).where(Node.id.in_(chunk))).scalars()})
    for c in creates:
        operations.create_class(units[c["unit_id"]], year, name=c["name"], actor=user, **c["fields"])
        done += 1
        if done % 200 == 0:
            progress(5 + 90 * done // total, f"{done}/{total}")
    changed = 0
    by_id = {u["id"]: u for u in updates}
    for chunk in chunks(by_id):
        for c in session.execute(select(SchoolClass).where(SchoolClass.id.in_(chunk))).scalars():
            changed += operations.update_class(c, {f: ch["new"] for f, ch in by_id[c.id]["changes"].items()},
                                               actor=user)
            done += 1
            if done % 200 == 0:
                progress(5 + 90 * done // total, f"{done}/{total}")
    return {"created": len(creates), "updated": changed}


def export_rows(scope: Node, year: SchoolYear) -> tuple[list[str], list[list]]:
    rows = [[rec.unit_code, rec.unit_name, rec.name, ROMAN[rec.grade_level], rec.teaching_language,
             rec.education_form, rec.pupils, "yes" if rec.combined else "no"] for rec in _classes_in(scope, year.id)]
    return [c.name for c in STRUCTURE_COLUMNS], rows
