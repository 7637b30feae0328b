"""A deterministic synthetic country at real size: 42 inspectorates, ~7,000 schools, ~17,000 units, ~140,000
classes, ~2.9 million pupils (as class counts). Bulk inserts through SQLAlchemy Core, ids assigned up front so the
materialised paths are written in the same statement; one audit entry for the whole seed."""
from __future__ import annotations

import datetime as dt
import json
import random
import time
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
        # path None: "/<id>/", as tenants.operations.create_node writes a root
        ministry_row = _node(node_id, "ministry", "MEC", "Ministerul Educației", None, None, None, None, None, None,
                             now)
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


# --- a launched campaign, mostly filled --------------------------------------------------------------------

# Small minorities where they really live (share of pupils, roughly).
MINORITIES = {"german": {"SB": 0.01, "TM": 0.01, "BV": 0.008, "AR": 0.006, "SM": 0.006},
              "ukrainian": {"MM": 0.05, "SV": 0.02, "TM": 0.005, "CS": 0.005},
              "turkish_tatar": {"CT": 0.05, "TL": 0.01}}
EXCLUSION_REASONS = ("Unitate în reorganizare (comasare aprobată de consiliul local)",
                     "Structură fără elevi în anul școlar curent",
                     "Clădire în reabilitare; elevii învață temporar la unitatea-mamă")
SEED_LABEL = "seed national"


@dataclass
class CampaignSeedStats:
    campaign_id: int = 0
    states: int = 0
    classes_filled: int = 0
    classes_missing: int = 0
    classes_submitted: int = 0
    units_filled: int = 0
    units_submitted: int = 0
    units_excluded: int = 0
    units_skewed: int = 0
    schools_submitted: int = 0
    counties_submitted: list = None
    snapshots: dict = None  # written per level (the roll-up of what was submitted), None when not written
    timings: dict = None  # seconds per phase


class FastCompute:
    """:func:`forms.engine.compute` for many rows of one definition, with the same results: ``sum("x.*")`` adds
    the numbers under a prefix, a two-name formula (``pct(a, b)``) goes through the field type's own ``derive``
    once per distinct pair of inputs, anything else through ``derive`` over the full environment."""

    def __init__(self, definition):
        import re

        from forms.expressions import compile_expression
        self.definition = definition
        self.inputs = [f.key for f in definition.fields if f.is_input]
        keys = set(definition.context) | {f.key for f in definition.fields}
        self.plan = []
        for key in definition.computed_order:
            f = definition.field(key)
            m = re.fullmatch(r'sum\("([a-z0-9_.]+)\.\*"\)', f.spec["formula"].strip())
            expr = compile_expression(f.spec["formula"])
            if m:
                prefix = m[1] + "."
                self.plan.append((key, "sum", sorted(k for k in keys if k.startswith(prefix)), f))
            elif not expr.patterns and len(expr.names) <= 2:
                self.plan.append((key, "memo", sorted(expr.names), f))
            else:
                self.plan.append((key, "full", None, f))
        self.memo: dict = {}

    def __call__(self, values: dict, context: dict) -> dict:
        env = dict.fromkeys(self.inputs)
        env.update((k, context.get(k)) for k in self.definition.context)
        env.update((k, values.get(k)) for k in self.inputs)
        out = dict(values)
        memo = self.memo
        for key, kind, names, f in self.plan:
            if kind == "sum":
                value = _sum_numbers([env[k] for k in names])
            elif kind == "memo":
                memo_key = (key, *(env.get(n) for n in names))
                value = memo.get(memo_key, memo)
                if value is memo:
                    value = memo[memo_key] = f.fieldtype.derive(f.spec, dict(zip(names, memo_key[1:], strict=True)))
            else:
                value = f.fieldtype.derive(f.spec, env)
            env[key] = out[key] = value
        return out


def _sum_numbers(vals: list):
    """``sum("x.*")`` as the expression language computes it: bools count 0/1, non-numbers are skipped, no numbers
    at all is None, a result out of bounds is None."""
    import math

    from forms.expressions import MAX_RESULT
    nums = [v if type(v) is int else int(v) if type(v) is bool else v for v in vals
            if type(v) in (int, bool) or (type(v) is float and math.isfinite(v))]
    if not nums:
        return None
    total = sum(nums)
    return total if abs(total) <= MAX_RESULT and not (type(total) is float and not math.isfinite(total)) else None


def _binom(rng: random.Random, n: int, p: float) -> int:
    """A cheap binomial draw (mean and variance right, a sum of three uniforms for the noise, clipped): plenty for
    plausible counts, and much cheaper than an exact draw."""
    if n <= 0 or p <= 0:
        return 0
    if p >= 1:
        return n
    mean = n * p
    if mean < 0.5:
        return 1 if rng.random() < mean else 0
    r = rng.random
    noise = (r() + r() + r() - 1.5) * 2.0  # variance 1
    k = round(mean + noise * (mean * (1 - p)) ** 0.5)
    return 0 if k < 0 else n if k > n else k


def _split(rng: random.Random, n: int, weights: list[float]) -> list[int]:
    """``n`` pupils over categories (sequential binomials; the last takes the rest)."""
    out, left, rest = [], n, sum(weights)
    for w in weights[:-1]:
        k = _binom(rng, left, w / rest) if rest > 0 else 0
        out.append(k)
        left -= k
        rest -= w
    out.append(left)
    return out


def class_table(rng: random.Random, pupils: int, roma: float, hungarian: float, minorities: dict, rural: bool,
                lang: str) -> dict:
    """Plausible input values of one class table (counts add up; every criterion within the class)."""
    if rng.random() < 0.03:  # the class changed size since the structure was entered
        pupils = max(1, pupils + rng.choice((-2, -1, 1)))
    hu = hungarian if lang != "hu" else 0.85 + 0.15 * rng.random()
    if lang == "hu":
        roma = roma / 3
    weights = [0.0, roma, hu, minorities.get("german", 0), minorities.get("ukrainian", 0),
               minorities.get("turkish_tatar", 0), 0.003, 0.04 + 0.04 * rng.random()]
    weights[0] = max(0.0, 1 - sum(weights))
    eth = _split(rng, pupils, [weights[i] for i in (1, 2, 3, 4, 5, 6, 7, 0)])
    roma_n, hu_n, de_n, uk_n, tt_n, other_n, undeclared_n, ro_n = eth
    r_share = roma_n / pupils if pupils else 0
    higher = (0.12 if rural else 0.32) * (1 - r_share)
    edu = _split(rng, pupils, [higher, 0.42, 0.2 + 0.2 * r_share, 0.05 + 0.35 * r_share, 0.06])
    social = _binom(rng, pupils, 0.08 + (0.1 if rural else 0) + 0.5 * r_share)
    sen = _binom(rng, pupils, 0.03 + 0.04 * r_share)
    seats = min(pupils, rng.choice((4, 6, 6, 8)))
    bench_roma = min(seats, roma_n, _binom(rng, seats, min(1.0, r_share * (1.6 if rng.random() < 0.3 else 1.0))))
    return {
        "pupils": pupils,
        "ethnicity.romanian": ro_n, "ethnicity.roma": roma_n, "ethnicity.hungarian": hu_n,
        "ethnicity.german": de_n, "ethnicity.ukrainian": uk_n, "ethnicity.turkish_tatar": tt_n,
        "ethnicity.other": other_n, "ethnicity.undeclared": undeclared_n,
        "parents_education.higher": edu[0], "parents_education.upper_secondary": edu[1],
        "parents_education.eight_grades": edu[2], "parents_education.below_eight": edu[3],
        "parents_education.unknown": edu[4],
        "social_scholarship": social, "single_parent": _binom(rng, pupils, 0.11),
        "disability_sen": sen,
        "residence_other_locality": _binom(rng, pupils, 0.15 if rural else 0.06),
        "institutionalised": _binom(rng, pupils, 0.008), "relatives_care": _binom(rng, pupils, 0.07),
        "attended_kindergarten": _binom(rng, pupils, 0.92 - 0.4 * r_share), "repeating": _binom(rng, pupils, 0.015),
        "last_benches.seats": seats, "last_benches.ethnicity.roma": bench_roma,
        "last_benches.social_scholarship": min(seats, social, _binom(rng, seats, social / pupils if pupils else 0)),
        "last_benches.disability_sen": min(seats, sen, _binom(rng, seats, sen / pupils if pupils else 0)),
    }


def unit_form(rng: random.Random, buildings: int, classrooms: int, pupils: int, roma: float, hungarian: float,
              languages: str) -> dict:
    """Plausible input values of one unit form (the locality's school-age population by ethnicity)."""
    population = max(10, round(pupils * (1.1 + rng.random())))
    loc = _split(rng, population, [roma * (0.8 + 0.4 * rng.random()), hungarian, 0.004, 0.002, 0.002, 0.003, 0.03,
                                   max(0.0, 1 - roma - hungarian - 0.041)])
    return {"buildings.count": buildings, "buildings.classrooms": max(classrooms, buildings),
            "buildings.classes_assigned": True, "buildings.notes": None,
            "locality.ethnicity.roma": loc[0], "locality.ethnicity.hungarian": loc[1],
            "locality.ethnicity.german": loc[2], "locality.ethnicity.ukrainian": loc[3],
            "locality.ethnicity.turkish_tatar": loc[4], "locality.ethnicity.other": loc[5],
            "locality.ethnicity.undeclared": loc[6], "locality.ethnicity.romanian": loc[7],
            "locality_info.source": "INS, recensământul 2021", "locality_info.year": 2021,
            "teaching_languages": [x for x in languages.split(",") if x]}


def _roma_base(rng: random.Random) -> float:
    r = rng.random()
    return rng.uniform(0, 0.03) if r < 0.6 else rng.uniform(0.03, 0.15) if r < 0.9 else rng.uniform(0.15, 0.4)


def _commission(ministry: Node):
    """A commission member to create and launch the campaign (the one already there, or a new account)."""
    from tenants import operations
    from tenants.models import Membership, User

    user = session.execute(select(User).join(Membership, Membership.user_id == User.id).where(
        Membership.role == "commission", Membership.node_id == ministry.id).order_by(User.id).limit(1)).scalar()
    if user is None:
        user = operations.create_user(email="comisia.nationala@arbor.invalid", name="Comisia națională (sintetic)")
        operations.add_membership(user, ministry, "commission")
    return user


def seed_national_campaign(seed: int = 20261121, year_name: str = "2025-2026", *, submitted_counties: int = 3,
                           excluded_share: float = 0.004, skewed_share: float = 0.08, snapshots: bool = True,
                           batch: int = 5000) -> CampaignSeedStats:
    """Create and launch the segregation campaign over the seeded country, then fill it like a campaign a few weeks
    before its deadline: ~95 % of class tables saved with plausible counts (the rest never saved), unit forms,
    classes/units/schools submitted bottom-up here and there, a few units excluded with a reason, some units
    skewed (one or two classes concentrating Roma pupils) so risk appears, and ``submitted_counties`` counties
    submitted completely. With ``snapshots``, the roll-up snapshots of everything submitted are then written
    through :func:`exports.rollup.rebuild` (units from their tables, then sums bottom-up). Deterministic for
    (country, seed). Bulk statements; one audit entry for the seed (and the roll-up's own)."""
    from forms.operations import sync_builtin
    from workflows import campaigns
    from workflows.models import CampaignState, CampaignValues
    from workflows.values import definition_for

    rng = random.Random(seed * 7 + 1)
    stats = CampaignSeedStats(counties_submitted=[], timings={})
    clock = [time.perf_counter()]

    def phase(name: str) -> None:
        now_ = time.perf_counter()
        stats.timings[name] = round(now_ - clock[0], 2)
        clock[0] = now_

    sync_builtin()
    year = session.execute(select(SchoolYear).where(SchoolYear.name == year_name)).scalar_one()
    ministry = session.execute(select(Node).where(Node.level == "ministry").order_by(Node.id).limit(1)).scalar_one()
    commission = _commission(ministry)
    campaign = campaigns.create_campaign(
        commission, name=f"Monitorizarea segregării școlare {year_name} (set sintetic național)", school_year=year,
        opens_on=year.starts_on + dt.timedelta(days=120), deadline=year.starts_on + dt.timedelta(days=200))
    campaigns.launch_campaign(commission, campaign, "Vă invităm să completați datele de monitorizare până la "
                                                    "termenul campaniei.")
    stats.campaign_id = campaign.id
    phase("launch")
    class_def, unit_def = definition_for(campaign, "class"), definition_for(campaign, "unit")
    class_compute, unit_compute = FastCompute(class_def), FastCompute(unit_def)

    cs = CampaignState
    rows = session.execute(select(cs.id, cs.level, cs.node_id, cs.class_id, cs.parent_id, cs.county_id)
                           .where(cs.campaign_id == campaign.id)).all()
    # Launch numbers its rows in whatever order the database joins them: walk them in node/class order instead.
    rows.sort(key=lambda r: (r.node_id, r.class_id or 0))
    stats.states = len(rows)
    county_code = dict(session.execute(select(Node.id, Node.code).where(Node.level == "inspectorate")).all())
    unit_info = {r.id: r for r in session.execute(select(Node.id, Node.environment, Node.languages)
                                                  .where(Node.level == "unit"))}
    buildings: dict[int, list[int]] = {}
    for unit_id, classrooms in session.execute(select(Building.unit_id, Building.classrooms)):
        b = buildings.setdefault(unit_id, [0, 0])
        b[0] += 1
        b[1] += classrooms or 0
    class_info = {r.id: r for r in session.execute(
        select(SchoolClass.id, SchoolClass.pupils, SchoolClass.grade_level, SchoolClass.teaching_language,
               SchoolClass.education_form, SchoolClass.combined, SchoolClass.building_id, SchoolClass.name)
        .where(SchoolClass.school_year_id == year.id))}

    counties = [r for r in rows if r.level == "inspectorate"]
    schools = [r for r in rows if r.level == "school"]
    units = [r for r in rows if r.level == "unit"]
    classes_of: dict[int, list] = {}
    for r in rows:
        if r.level == "class":
            classes_of.setdefault(r.parent_id, []).append(r)
    # The early finishers are among the smaller half of the counties (less to check, and fewer snapshots to write).
    size = {code: pop for code, _name, pop in COUNTIES}
    present = sorted((size.get(county_code[r.node_id], 0), county_code[r.node_id]) for r in counties)
    candidates = [code for _pop, code in present[:max(submitted_counties, len(present) // 2)]]
    chosen = set(rng.sample(candidates, min(submitted_counties, len(candidates))))
    stats.counties_submitted = sorted(chosen)
    excluded = {u.id: rng.choice(EXCLUSION_REASONS)
                for u in rng.sample(units, min(len(units), max(2, round(excluded_share * len(units)))))}
    skewed = {u.id for u in rng.sample([u for u in units if u.id not in excluded],
                                       min(len(units) - len(excluded), max(3, round(skewed_share * len(units)))))}
    stats.units_excluded, stats.units_skewed = len(excluded), len(skewed)

    phase("load")
    now = utcnow()
    state_of: dict[int, str] = {}  # state row id → its new state (absent: not_started)
    values_rows: list[tuple] = []

    session.execute(CampaignValues.__table__.delete().where(CampaignValues.campaign_id == campaign.id,
                                                            CampaignValues.section.in_(("class", "unit"))))

    columns = ("campaign_id", "state_id", "section", "values", "version", "updated_at", "updated_by")

    def add_values(state_id: int, section: str, values: dict | None) -> None:
        values_rows.append((campaign.id, state_id, section, values or {}, 1 if values else 0,
                            now if values else None, SEED_LABEL if values else None))
        if len(values_rows) >= batch:
            _bulk_insert(CampaignValues.__table__, columns, values_rows)
            values_rows.clear()

    for u in units:
        code = county_code[u.county_id]
        info = unit_info[u.node_id]
        rural = info.environment == "rural"
        in_chosen = code in chosen
        my_classes = classes_of.get(u.id, [])
        if u.id in excluded:
            add_values(u.id, "unit", None)
            for c in my_classes:
                add_values(c.id, "class", None)
            continue
        roma, hungarian = _roma_base(rng), HUNGARIAN.get(code, 0.0) * 0.4
        minorities = {g: shares.get(code, 0.0) for g, shares in MINORITIES.items()}
        if in_chosen:
            mode = "submitted"
        else:
            r = rng.random()
            mode = "untouched" if r < 0.02 else "submitted" if r < 0.35 else "partial" if r < 0.7 else "started"
        hot = set()
        if u.id in skewed and len(my_classes) >= 2:
            hot = {c.id for c in rng.sample(my_classes, 1 if len(my_classes) < 6 else 2)}
        any_filled = False
        all_submitted = True
        pupils_total = 0
        for c in my_classes:
            k = class_info[c.class_id]
            pupils_total += k.pupils
            if mode == "untouched" or (mode != "submitted" and rng.random() < 0.05):
                add_values(c.id, "class", None)
                stats.classes_missing += 1
                all_submitted = False
                continue
            share = rng.uniform(0.6, 0.95) if c.id in hot else roma * rng.uniform(0.5, 1.5)
            inputs = class_table(rng, k.pupils, min(share, 0.97), hungarian, minorities, rural, k.teaching_language)
            ctx = {"class.pupils": k.pupils, "class.grade_level": k.grade_level,
                   "class.teaching_language": k.teaching_language, "class.education_form": k.education_form,
                   "class.combined": bool(k.combined), "class.building_id": k.building_id, "class.name": k.name}
            add_values(c.id, "class", class_compute(inputs, ctx))
            stats.classes_filled += 1
            any_filled = True
            if mode == "submitted" or (mode == "partial" and rng.random() < 0.6):
                state_of[c.id] = "submitted"
                stats.classes_submitted += 1
            else:
                state_of[c.id] = "in_progress"
                all_submitted = False
        form_filled = mode == "submitted" or (mode == "partial" and rng.random() < 0.8) or \
            (mode == "started" and rng.random() < 0.5)
        if form_filled:
            b_count, classrooms = buildings.get(u.node_id, (0, 0))
            inputs = unit_form(rng, b_count, classrooms, pupils_total, roma, hungarian, info.languages or "ro")
            add_values(u.id, "unit", unit_compute(inputs, {}))
            stats.units_filled += 1
        else:
            add_values(u.id, "unit", None)
        if mode == "submitted" and all_submitted:
            state_of[u.id] = "submitted"
            stats.units_submitted += 1
        elif any_filled or form_filled:
            state_of[u.id] = "in_progress"
    if values_rows:
        _bulk_insert(CampaignValues.__table__, columns, values_rows)
    phase("values")

    units_of: dict[int, list] = {}
    for u in units:
        units_of.setdefault(u.parent_id, []).append(u)
    schools_of: dict[int, list] = {}
    for s in schools:
        mine = [u for u in units_of.get(s.id, []) if u.id not in excluded]
        done = all(state_of.get(u.id) == "submitted" for u in mine)
        if done and (county_code[s.county_id] in chosen or (mine and rng.random() < 0.5)):
            state_of[s.id] = "submitted"
            stats.schools_submitted += 1
        elif any(u.id in state_of for u in mine):
            state_of[s.id] = "in_progress"
        schools_of.setdefault(s.parent_id, []).append(s)
    for county in counties:
        mine = schools_of.get(county.id, [])
        if county_code[county.node_id] in chosen and all(state_of.get(s.id) == "submitted" for s in mine):
            state_of[county.id] = "submitted"
        elif any(s.id in state_of for s in mine):
            state_of[county.id] = "in_progress"

    for new_state in ("in_progress", "submitted"):
        _update_ids(cs.__table__, [i for i, s in state_of.items() if s == new_state], state=new_state,
                    updated_at=now)
    for reason in EXCLUSION_REASONS:
        ids = [i for i, r in excluded.items() if r == reason]
        if ids:
            session.execute(cs.__table__.update().where(cs.id.in_(ids))
                            .values(excluded=True, exclusion_reason=reason, updated_at=now))
    session.flush()
    phase("states")
    if snapshots:
        session.expire_all()  # the state rows changed underneath the ORM
        stats.snapshots = _write_snapshots(campaign)
        phase("snapshots")
    audit.record("seed.national_campaign", actor="cli", object_type="campaign", object_id=campaign.id,
                 node_id=ministry.id, new={k: v for k, v in stats.__dict__.items()})
    return stats


def _write_snapshots(campaign) -> dict | None:
    try:
        from exports import rollup
    except ImportError:  # the roll-up is not part of this checkout yet
        return None
    return rollup.rebuild(campaign) if hasattr(rollup, "rebuild") else None


def _bulk_insert(table, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Append rows in the session's transaction: COPY on PostgreSQL (JSON columns as ``json.dumps`` text, what
    the JSON type writes), an executemany INSERT elsewhere."""
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        session.execute(insert(table), [dict(zip(columns, r, strict=True)) for r in rows])
        return
    from sqlalchemy import JSON
    as_json = [isinstance(table.c[c].type, JSON) for c in columns]
    cols = ", ".join(f'"{c}"' for c in columns)
    with conn.connection.driver_connection.cursor() as cur, \
            cur.copy(f"COPY {table.name} ({cols}) FROM STDIN") as copy:
        for r in rows:
            copy.write_row([json.dumps(v) if j and v is not None else v for v, j in zip(r, as_json, strict=True)])


def _update_ids(table, ids: list[int], batch: int = 5000, **values) -> None:
    """``UPDATE table SET … WHERE id IN ids``: one statement with an array on PostgreSQL, chunks elsewhere."""
    if not ids:
        return
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy import BigInteger, any_, bindparam
        from sqlalchemy.dialects.postgresql import ARRAY
        session.execute(table.update().where(table.c.id == any_(bindparam("ids", type_=ARRAY(BigInteger))))
                        .values(**values), {"ids": ids})
        return
    for start in range(0, len(ids), batch):
        session.execute(table.update().where(table.c.id.in_(ids[start:start + batch])).values(**values))
