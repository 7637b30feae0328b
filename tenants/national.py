"""A deterministic synthetic country at real size: 42 inspectorates, ~7,000 schools, ~17,000 units, ~140,000
classes, ~2.9 million pupils (as class counts). Bulk inserts through SQLAlchemy Core, ids assigned up front so the
materialised paths are written in the same statement; one audit entry for the whole seed."""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from sqlalchemy import func, insert, select, text

from core import audit
from core.db import session, utcnow
from tenants.models import Building, Node, SchoolClass, SchoolYear, search_key

# (code, name, population in thousands) — the 41 counties and Bucharest, sized like the real ones.
COUNTIES = [
    ("AB", "Alba", 325), ("AR", "Arad", 410), ("AG", "Argeș", 570), ("BC", "Bacău", 580), ("BH", "Bihor", 550),
    ("BN", "Bistrița-Năsăud", 295), ("BT", "Botoșani", 390), ("BV", "Brașov", 545), ("BR", "Brăila", 280),
    ("B", "București", 1720), ("BZ", "Buzău", 405), ("CS", "Caraș-Severin", 245), ("CL", "Călărași", 285),
    ("CJ", "Cluj", 680), ("CT", "Constanța", 655), ("CV", "Covasna", 200), ("DB", "Dâmbovița", 480),
    ("DJ", "Dolj", 600), ("GL", "Galați", 500), ("GR", "Giurgiu", 260), ("GJ", "Gorj", 310),
    ("HR", "Harghita", 290), ("HD", "Hunedoara", 360), ("IL", "Ialomița", 250), ("IS", "Iași", 760),
    ("IF", "Ilfov", 540), ("MM", "Maramureș", 450), ("MH", "Mehedinți", 230), ("MS", "Mureș", 520),
    ("NT", "Neamț", 450), ("OT", "Olt", 390), ("PH", "Prahova", 700), ("SM", "Satu Mare", 330),
    ("SJ", "Sălaj", 210), ("SB", "Sibiu", 390), ("SV", "Suceava", 640), ("TR", "Teleorman", 320),
    ("TM", "Timiș", 650), ("TL", "Tulcea", 190), ("VS", "Vaslui", 375), ("VL", "Vâlcea", 340),
    ("VN", "Vrancea", 330),
]
HUNGARIAN = {"HR": 0.8, "CV": 0.7, "MS": 0.3, "SM": 0.3, "BH": 0.2, "SJ": 0.2, "CJ": 0.1, "AR": 0.05}
SCHOOLS_NATIONAL = 7000


@dataclass
class SeedStats:
    counties: int = 0
    schools: int = 0
    units: int = 0
    classes: int = 0
    pupils: int = 0


def _next_id(model) -> int:
    return (session.execute(select(func.max(model.id))).scalar() or 0) + 1


def _fix_sequences(*models) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return
    for m in models:
        t = m.__tablename__
        session.execute(text(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), "
                             f"(SELECT COALESCE(MAX(id), 1) FROM {t}))"))


def _class_plan(rng: random.Random, rural: bool, size: str) -> list[tuple[str, int, bool, int]]:
    """(name, grade_level, combined, pupils) for one unit."""
    if rural and size == "small":  # small rural structures: combined-grade classes
        plan = [("P-II", 0, True), ("III-IV", 3, True)]
        if rng.random() < 0.5:
            plan += [("V-VI", 5, True), ("VII-VIII", 7, True)]
        return [(n, g, c, rng.randint(8, 18)) for n, g, c in plan]
    if size == "high":
        grades, parallel = range(9, 13), rng.randint(2, 6)
    else:
        grades, parallel = range(0, 9), rng.randint(1, 2) if rural else rng.randint(1, 3)
    out = []
    for g in grades:
        for k in range(parallel):
            name = f"{'P' if g == 0 else g}{'ABCDEFG'[k]}"
            out.append((name, g, False, rng.randint(18, 30) if not rural else rng.randint(12, 26)))
    return out


def seed_national(scale: float = 1.0, seed: int = 20261121, year_name: str = "2025-2026",
                  batch: int = 20000) -> SeedStats:
    """Create the synthetic country under a (new or existing) ministry node. Deterministic for (scale, seed)."""
    rng = random.Random(seed)
    stats = SeedStats()
    year = session.execute(select(SchoolYear).where(SchoolYear.name == year_name)).scalar()
    if year is None:
        year = SchoolYear(name=year_name, starts_on=dt.date(2025, 9, 8), ends_on=dt.date(2026, 6, 19), current=True)
        session.add(year)
        session.flush()
    now = utcnow()
    node_id, building_id, class_id = _next_id(Node), _next_id(Building), _next_id(SchoolClass)
    ministry = session.execute(select(Node).where(Node.level == "ministry")).scalar()
    nodes: list[dict] = []
    if ministry is None:
        ministry_row = _node(node_id, "ministry", "MEC", "Ministerul Educației", None, "/", None, None, None, None, now)
        nodes.append(ministry_row)
        ministry_id, ministry_path = node_id, ministry_row["path"]
        node_id += 1
    else:
        ministry_id, ministry_path = ministry.id, ministry.path
    buildings: list[dict] = []
    classes: list[dict] = []
    total_pop = sum(p for _c, _n, p in COUNTIES)

    def flush_rows(force: bool = False):
        nonlocal nodes, buildings, classes
        if nodes and (force or len(nodes) >= batch):
            session.execute(insert(Node), nodes)
            nodes = []
        if (force or len(classes) >= batch) and (buildings or classes):
            if nodes:
                session.execute(insert(Node), nodes)
                nodes = []
            if buildings:
                session.execute(insert(Building), buildings)
                buildings = []
            if classes:
                session.execute(insert(SchoolClass), classes)
                classes = []

    for c_index, (ccode, cname, pop) in enumerate(COUNTIES, start=1):
        county_id = node_id
        node_id += 1
        cpath = f"{ministry_path}{county_id}/"
        nodes.append(_node(county_id, "inspectorate", ccode,
                           f"Inspectoratul Școlar Județean {cname}" if ccode != "B"
                           else "Inspectoratul Școlar al Municipiului București",
                           ministry_id, cpath, county_id, None, cname, "urban", now))
        stats.counties += 1
        n_schools = max(1, round(SCHOOLS_NATIONAL * pop / total_pop * scale))
        hu_share = HUNGARIAN.get(ccode, 0.0)
        for s_index in range(1, n_schools + 1):
            school_id = node_id
            node_id += 1
            rural = ccode != "B" and rng.random() < 0.55
            kind = "high" if not rural and rng.random() < 0.22 else "gen"
            lang = "hu" if rng.random() < hu_share else "ro"
            locality = f"{'Comuna' if rural else 'Orașul'} {cname} {s_index % 97 + 1}"
            sname = (f"Liceul Teoretic nr. {s_index}" if kind == "high" else f"Școala Gimnazială nr. {s_index}") \
                + f" {cname}"
            scode = f"{c_index:02d}{s_index:05d}001"
            spath = f"{cpath}{school_id}/"
            nodes.append(_node(school_id, "school", scode, sname, county_id, spath, county_id, school_id, locality,
                               "rural" if rural else "urban", now, "ro,hu" if lang == "hu" else "ro"))
            stats.schools += 1
            n_units = 1 + (rng.choice((1, 1, 2, 2, 3, 4)) if rural else rng.choice((0, 0, 0, 1, 1, 2)))
            for u_index in range(1, n_units + 1):
                unit_id = node_id
                node_id += 1
                u_rural = rural or u_index > 1
                size = "small" if u_index > 1 and u_rural else kind
                ucode = f"{c_index:02d}{s_index:05d}{u_index + 1:03d}"
                uname = sname if u_index == 1 else f"{sname} — structura {u_index}"
                nodes.append(_node(unit_id, "unit", ucode, uname, school_id, f"{spath}{unit_id}/", county_id,
                                   school_id, locality, "rural" if u_rural else "urban", now,
                                   "ro,hu" if lang == "hu" else "ro"))
                stats.units += 1
                buildings.append({"id": building_id, "unit_id": unit_id, "name": "Corp A", "address": locality,
                                  "classrooms": rng.randint(2, 30)})
                b_id = building_id
                building_id += 1
                for name, grade, combined, pupils in _class_plan(rng, u_rural, size):
                    classes.append({"id": class_id, "unit_id": unit_id, "school_year_id": year.id,
                                    "building_id": b_id, "name": name, "grade_level": grade,
                                    "teaching_language": lang, "education_form": "day", "pupils": pupils,
                                    "combined": combined})
                    class_id += 1
                    stats.classes += 1
                    stats.pupils += pupils
            flush_rows()
    flush_rows(force=True)
    _fix_sequences(Node, Building, SchoolClass)
    audit.record("seed.national", actor="cli", object_type="nodes", object_id=ministry_id, node_id=ministry_id,
                 new={"scale": scale, "seed": seed, **stats.__dict__})
    return stats


def _node(id_, level, code, name, parent_id, path, county_id, school_id, locality, environment, now,
          languages="ro") -> dict:
    return {"id": id_, "level": level, "parent_id": parent_id, "path": path or f"/{id_}/", "county_id": county_id,
            "school_id": school_id, "code": code, "name": name, "search_key": search_key(name),
            "locality": locality, "environment": environment, "languages": languages, "active": True,
            "created_at": now, "updated_at": now}
