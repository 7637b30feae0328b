"""Demo data: the ministry, three counties with about five schools each, classes, one account per role, the
built-in forms and one launched data collection campaign."""
from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import select

from core.db import session
from tenants import operations
from tenants.models import Node

DEMO_PASSWORD = "Arbor-demo-2026"

COUNTIES = [
    ("CJ", "Inspectoratul Școlar Județean Cluj", "Cluj-Napoca", [
        ("Liceul Teoretic „Avram Iancu”", "Cluj-Napoca", "urban", "ro"),
        ("Școala Gimnazială „Ion Creangă”", "Cluj-Napoca", "urban", "ro"),
        ("Școala Gimnazială Florești", "Florești", "rural", "ro"),
        ("Liceul Teoretic „Báthory István”", "Cluj-Napoca", "urban", "hu"),
        ("Școala Gimnazială Apahida", "Apahida", "rural", "ro"),
    ]),
    ("IS", "Inspectoratul Școlar Județean Iași", "Iași", [
        ("Colegiul Național Iași", "Iași", "urban", "ro"),
        ("Școala Gimnazială „Otilia Cazimir”", "Iași", "urban", "ro"),
        ("Școala Gimnazială Ciurea", "Ciurea", "rural", "ro"),
        ("Școala Gimnazială Holboca", "Holboca", "rural", "ro"),
        ("Liceul Tehnologic Pașcani", "Pașcani", "urban", "ro"),
    ]),
    ("B", "Inspectoratul Școlar al Municipiului București", "București", [
        ("Colegiul Național „Gheorghe Lazăr”", "București", "urban", "ro"),
        ("Școala Gimnazială nr. 195", "București", "urban", "ro"),
        ("Școala Gimnazială nr. 79", "București", "urban", "ro"),
        ("Liceul Teoretic „Jean Monnet”", "București", "urban", "ro"),
        ("Școala Gimnazială nr. 280", "București", "urban", "ro"),
    ]),
]

# (e-mail, name, role, which node: "ministry", "CJ", "school", "unit")
ACCOUNTS = [
    ("comisie@demo.arbor.ro", "Maria Popescu", "commission", "ministry"),
    ("admin@demo.arbor.ro", "Andrei Ionescu", "admin", "ministry"),
    ("isg.cluj@demo.arbor.ro", "Elena Mureșan", "isg", "CJ"),
    ("inspector.cluj@demo.arbor.ro", "Radu Pop", "inspector", "CJ"),
    ("inspector.iasi@demo.arbor.ro", "Ioana Ciobanu", "inspector", "IS"),
    ("director@demo.arbor.ro", "Mihai Rusu", "director", "school"),
    ("secretar@demo.arbor.ro", "Ana Crișan", "school_admin", "school"),
    ("profesor@demo.arbor.ro", "Dan Moldovan", "teacher", "school"),
    ("responsabil@demo.arbor.ro", "Ileana Toma", "unit_responsible", "unit"),
    ("ajutor@demo.arbor.ro", "Sorin Lazăr", "unit_helper", "unit"),
    ("elev@demo.arbor.ro", "Luca Pavel", "pupil", "school"),
    ("parinte@demo.arbor.ro", "Oana Pavel", "parent", "school"),
    ("statistica@demo.arbor.ro", "Victor Stan", "statistics", "ministry"),
]

# The running campaign of the demo: it opened a week before the demo was seeded and closes 45 days after it, in the
# school year that contains that day, so links can be issued and deadlines lie ahead whenever the demo is made.
MONTHS_RO = ("ianuarie", "februarie", "martie", "aprilie", "mai", "iunie", "iulie", "august", "septembrie",
             "octombrie", "noiembrie", "decembrie")


def school_year_of(day: dt.date) -> tuple[str, dt.date, dt.date]:
    """Name, first and last day of the school year containing ``day`` (September to June)."""
    first = day.year if day.month >= 9 else day.year - 1
    return f"{first}-{first + 1}", dt.date(first, 9, 8), dt.date(first + 1, 6, 19)


def campaign_dates(today: dt.date | None = None) -> tuple[str, dt.date, dt.date, str]:
    """The demo campaign's name, opening day, deadline and launch message for a demo seeded on ``today``."""
    today = today or dt.date.today()
    name, _, _ = school_year_of(today)
    label = name.replace("-", "–")
    deadline = today + dt.timedelta(days=45)
    invitation = (
        "Stimați colegi,\n\n"
        f"Vă invităm să începeți colectarea datelor pentru monitorizarea segregării școlare în anul școlar {label}. "
        "Unitățile completează fișa unității și tabelele claselor, directorii transmit școlile, iar inspectoratele "
        f"transmit județul până la {deadline.day} {MONTHS_RO[deadline.month - 1]} {deadline.year}.\n\n"
        "Vă mulțumim,\nComisia Națională pentru Desegregare și Incluziune Educațională")
    return f"Monitorizarea segregării școlare {label}", today - dt.timedelta(days=7), deadline, invitation


def demo_totp_secret(email: str) -> str:
    """The deterministic TOTP secret of a demo account (development only; printed by ``flask seed demo``)."""
    import base64
    import hashlib
    return base64.b32encode(hashlib.sha256(f"arbor-demo:{email}".encode()).digest()[:20]).decode()


def already_seeded() -> bool:
    return session.execute(select(Node.id).where(Node.level == "ministry")).first() is not None


def seed(rng_seed: int = 2026) -> dict:
    """Create the demo tree and accounts; returns the notable nodes by key."""
    rng = random.Random(rng_seed)
    year = operations.create_school_year(*school_year_of(dt.date.today()), current=True)
    ministry = operations.create_node(level="ministry", code="MEC", name="Ministerul Educației — CNDIE")
    keys: dict[str, Node] = {"ministry": ministry}
    for c_index, (ccode, cname, city, schools) in enumerate(COUNTIES, start=1):
        county = operations.create_node(level="inspectorate", code=ccode, name=cname, parent=ministry,
                                        locality=city, environment="urban")
        keys[ccode] = county
        for s_index, (sname, locality, env, lang) in enumerate(schools, start=1):
            scode = f"{c_index:02d}{s_index:02d}000001"
            langs = "ro,hu" if lang == "hu" else "ro"
            school = operations.create_node(level="school", code=scode, name=sname, parent=county,
                                            locality=locality, environment=env, languages=langs)
            keys.setdefault("school", school)
            for u_index in range(1, rng.randint(1, 3) + 1):
                ucode = f"{c_index:02d}{s_index:02d}{u_index:02d}0002"
                uname = sname if u_index == 1 else f"{sname} — structura {u_index}"
                u_env = env if u_index == 1 else "rural"
                unit = operations.create_node(level="unit", code=ucode, name=uname, parent=school,
                                              locality=locality, environment=u_env, languages=langs)
                keys.setdefault("unit", unit)
                operations.create_building(unit, "Corp A", address=f"{locality}, str. Școlii {u_index}",
                                           classrooms=rng.randint(6, 20))
                _classes(unit, year, rng, lang, rural=u_env == "rural")
    from tenants import factors
    from tenants.policy import STAFF_ROLES
    for email, name, role, where in ACCOUNTS:
        user = operations.create_user(email=email, name=name, password=DEMO_PASSWORD)
        operations.add_membership(user, keys[where], role)
        if role in STAFF_ROLES:  # staff must use a second factor: an authenticator app with a known secret
            factors.add_confirmed_totp(user, demo_totp_secret(email))
    seed_campaign(year)
    return keys


def seed_campaign(year):
    """The built-in forms (published), and the demo campaign created and launched by the commission account."""
    from forms.operations import sync_builtin
    from tenants.models import User
    from workflows import campaigns

    sync_builtin()
    commission = session.execute(select(User).where(User.email == ACCOUNTS[0][0])).scalar_one()
    name, opens_on, deadline, invitation = campaign_dates()
    campaign = campaigns.create_campaign(commission, name=name, school_year=year, deadline=deadline,
                                         opens_on=opens_on)
    campaigns.launch_campaign(commission, campaign, invitation)
    return campaign


def _classes(unit: Node, year, rng: random.Random, lang: str, rural: bool) -> None:
    if rural:  # small rural units teach several grades together
        plan = [("P-II", 0, True), ("III-IV", 3, True), ("5A", 5, False), ("6A", 6, False)]
    else:
        plan = [(f"{g if g else 'P'}{letter}", g, False) for g in (0, 1, 4, 5, 8, 9, 12) for letter in "AB"
                if rng.random() < 0.8]
    for name, grade, combined in plan:
        operations.create_class(unit, year, name=name, grade_level=grade, pupils=rng.randint(12, 30),
                                teaching_language=lang, combined=combined)


def accounts_text() -> str:
    from tenants.policy import STAFF_ROLES
    name, _, deadline, _ = campaign_dates()
    lines = [f"Running campaign: {name} (deadline {deadline.isoformat()})",
             f"Demo accounts (password for all: {DEMO_PASSWORD}):"]
    for email, _name, role, where in ACCOUNTS:
        totp = f"  TOTP secret {demo_totp_secret(email)}" if role in STAFF_ROLES else "  (no second factor)"
        lines.append(f"  {role:<17} {email:<28} at {where:<8}{totp}")
    lines.append("Staff sign in with a second factor: add the TOTP secret to an authenticator app, or print the "
                 "current code with")
    lines.append("  FLASK_APP=wsgi .venv/bin/flask demo-code EMAIL")
    return "\n".join(lines)
