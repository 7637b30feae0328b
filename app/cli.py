"""``flask`` commands: db upgrade, users, tokens, seed, worker, jobs, audit.

Each command that writes calls operations and commits once; a domain error becomes a one-line message and a
non-zero exit status.
"""
from __future__ import annotations

import datetime as dt

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from core.db import session, utcnow
from core.errors import DomainError
from exports.jobs import QUEUES
from tenants import passwords, queries
from tenants.models import Node


def upgrade_database(url: str | None = None, revision: str = "head") -> None:
    from alembic import command
    from alembic.config import Config

    from app.config import ROOT

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["url"] = url or current_app.config["DATABASE_URL"]
    command.upgrade(cfg, revision)


def _user_by_email(email: str):
    return queries.user_by_email(email)


def _commit_or_fail(work):
    """Run ``work()`` and commit; a domain error rolls back and exits non-zero with its message."""
    try:
        result = work()
        session.commit()
        return result
    except DomainError as e:
        session.rollback()
        raise click.ClickException(e.message) from None


def init_app(app: Flask) -> None:
    for group in (_db_commands(), _users_commands(), _tokens_commands(), _seed_commands(), _jobs_commands(),
                  _audit_commands()):
        app.cli.add_command(group)
    _register_worker(app)
    from app import cli_campaigns
    cli_campaigns.init_app(app)


def _db_commands() -> AppGroup:
    db_cli = AppGroup("db", help="Database schema (Alembic).")

    @db_cli.command("upgrade")
    def db_upgrade():
        """Apply every migration."""
        upgrade_database()
        click.echo("database at head")

    return db_cli


def _users_commands() -> AppGroup:
    from tenants.policy import ROLE_LEVEL, ROLES

    users_cli = AppGroup("users", help="Accounts.")

    @users_cli.command("create")
    @click.option("--email", required=True)
    @click.option("--name", required=True)
    @click.option("--role", required=True, type=click.Choice(ROLES),
                  help="; ".join(f"{r} at {lv or 'any level'}" for r, lv in ROLE_LEVEL.items()))
    @click.option("--node", "node_code", required=True, help="SIIIR code of a school/unit, county code, or MEC")
    @click.option("--password", default=None, help="Omit to be prompted (new users only)")
    def users_create(email, name, role, node_code, password):
        """Create a user with one membership, or add the membership to an existing user."""
        from tenants import operations, queries

        email = email.strip().lower()
        if "@" not in email.strip("@"):
            raise click.ClickException(f"{email!r} is not an e-mail address")
        node = queries.node_by_code(node_code.strip())
        if node is None:
            raise click.ClickException(f"no node with code {node_code}")
        user = _user_by_email(email)
        if user is None:
            if password is None:
                password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
            problems = passwords.check_password_policy(password, email=email, name=name)
            if problems:
                raise click.ClickException("password refused: " + "; ".join(problems))
        elif password is not None:
            raise click.ClickException(f"{email} already exists; its password is not changed here")

        def work():
            u = user or operations.create_user(email=email, name=name, password=password)
            operations.add_membership(u, node, role)
            return u

        created = user is None
        _commit_or_fail(work)
        click.echo(f"{'created' if created else 'existing'} user {email} is {role} at {node.name} ({node.code})")

    return users_cli


def _tokens_commands() -> AppGroup:
    tokens_cli = AppGroup("tokens", help="Personal access tokens.")

    @tokens_cli.command("create")
    @click.argument("email")
    @click.option("--name", default="cli", show_default=True)
    @click.option("--read-only", is_flag=True, help="Refused on writes")
    @click.option("--expires-days", type=click.IntRange(min=1), default=None, help="Default: no expiry")
    def tokens_create(email, name, read_only, expires_days):
        """Issue a token for EMAIL and print it (shown once; only its hash is kept)."""
        from tenants import operations

        user = _user_by_email(email)
        if user is None or not user.active:
            raise click.ClickException(f"no active user {email}")
        expires = utcnow() + dt.timedelta(days=expires_days) if expires_days else None
        _tok, raw = _commit_or_fail(lambda: operations.issue_token(user, name, "read" if read_only else "read write",
                                                                   expires_at=expires))
        click.echo(raw)

    @tokens_cli.command("list")
    @click.argument("email")
    def tokens_list(email):
        """The tokens of EMAIL: id, name, prefix, scopes, state."""
        from tenants.models import ApiToken

        user = _user_by_email(email)
        if user is None:
            raise click.ClickException(f"no user {email}")
        toks = session.execute(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)).scalars()
        for t in toks:
            state = "revoked" if t.revoked_at else (f"expires {t.expires_at:%Y-%m-%d}" if t.expires_at else "active")
            click.echo(f"{t.id}\t{t.name}\t{t.prefix}…\t{t.scopes}\t{state}")

    @tokens_cli.command("revoke")
    @click.argument("email")
    @click.argument("token_id", type=int)
    def tokens_revoke(email, token_id):
        """Revoke token TOKEN_ID of EMAIL (see ``tokens list``)."""
        from tenants import operations
        from tenants.models import ApiToken

        user = _user_by_email(email)
        tok = session.get(ApiToken, token_id)
        if user is None or tok is None or tok.user_id != user.id:
            raise click.ClickException(f"{email} has no token {token_id}")
        _commit_or_fail(lambda: operations.revoke_token(tok))
        click.echo(f"token {token_id} ({tok.prefix}…) revoked")

    return tokens_cli


def _seed_commands() -> AppGroup:
    seed_cli = AppGroup("seed", help="Demo and synthetic data.")

    @seed_cli.command("demo")
    def seed_demo():
        """Ministry, Cluj, Iași and București with schools, units, classes and one account per role."""
        from tenants import demo

        if current_app.config["ENV"] == "production":
            raise click.ClickException("demo accounts share a published password: not in production")
        if demo.already_seeded():
            if _user_by_email(demo.ACCOUNTS[0][0]) is None:
                raise click.ClickException("the database already holds a tree that is not the demo; nothing added")
            click.echo("demo data already present")
        else:
            _commit_or_fail(demo.seed)
        click.echo(demo.accounts_text())

    @seed_cli.command("national")
    @click.option("--scale", type=click.FloatRange(0.001, 2.0), default=1.0, show_default=True,
                  help="1.0 = ~7,000 schools, ~17,000 units, ~140,000 classes")
    @click.option("--seed", "rng_seed", type=int, default=20261121, show_default=True)
    @click.option("--campaign/--no-campaign", "with_campaign", default=True, show_default=True,
                  help="Also launch the segregation campaign and fill most of its class tables")
    def seed_national(scale, rng_seed, with_campaign):
        """A deterministic synthetic country at real size (or a fraction of it), with a launched campaign."""
        import time

        from tenants import national

        if current_app.config["ENV"] == "production":
            raise click.ClickException("synthetic data never goes into a production database")
        if session.execute(select(Node.id).where(Node.level != "ministry").limit(1)).first():
            raise click.ClickException("the database already holds a network; seed into an empty one")
        started = time.perf_counter()
        stats = _commit_or_fail(lambda: national.seed_national(scale=scale, seed=rng_seed))
        click.echo(f"{stats.counties} inspectorates, {stats.schools} schools, {stats.units} units, "
                   f"{stats.classes} classes, {stats.pupils} pupils in {time.perf_counter() - started:.1f} s")
        if with_campaign:
            started = time.perf_counter()
            c = _commit_or_fail(lambda: national.seed_national_campaign(seed=rng_seed))
            click.echo(f"campaign {c.campaign_id}: {c.classes_filled} class tables filled, {c.classes_missing} "
                       f"missing, {c.classes_submitted} submitted; {c.units_submitted} units and "
                       f"{c.schools_submitted} schools submitted, {c.units_excluded} units excluded; counties "
                       f"submitted: {', '.join(c.counties_submitted)} in {time.perf_counter() - started:.1f} s")

    return seed_cli


def _register_worker(app: Flask) -> None:
    @app.cli.command("worker")
    @click.argument("queues", nargs=-1, type=click.Choice(QUEUES))
    @click.option("--burst", is_flag=True, help="Stop once the queues are empty")
    @click.option("--simple", is_flag=True, help="Run jobs in this process instead of a forked work horse")
    def worker(queues, burst, simple):
        """Run an RQ worker on the given queues (default: default exports emails)."""
        from rq import SimpleWorker, Worker

        from exports import jobs

        if jobs.backend.redis is None:
            raise click.ClickException("REDIS_URL is not set: jobs run in-process, no worker needed")
        # One app context for the whole worker (this command's); forked work horses inherit it and drop the
        # parent's pooled connections (exports.jobs). A horse that dies mid-job marks its job failed.
        cls = SimpleWorker if simple else Worker
        w = cls(list(queues or QUEUES), connection=jobs.backend.redis,
                work_horse_killed_handler=jobs.on_work_horse_killed)
        w.work(burst=burst, with_scheduler=False)


def _jobs_commands() -> AppGroup:
    jobs_cli = AppGroup("jobs", help="Background jobs.")

    @jobs_cli.command("retry")
    @click.argument("job_id", type=int)
    def jobs_retry(job_id):
        """Queue failed (or lost) job JOB_ID again; it keeps its parameters."""
        from exports import jobs
        from exports.models import Job

        job = session.get(Job, job_id)
        if job is None:
            raise click.ClickException(f"no job {job_id}")
        _commit_or_fail(lambda: jobs.retry(job, actor_label="cli"))
        session.refresh(job)
        click.echo(f"job {job_id} ({job.kind}) is {job.status}")

    return jobs_cli


def _audit_commands() -> AppGroup:
    audit_cli = AppGroup("audit", help="The tamper-evident audit log.")

    @audit_cli.command("verify")
    def audit_verify():
        """Walk the hash chain; name the first broken entry."""
        from core import audit

        ok, _bad_id, message = audit.verify()
        click.echo(message)
        if not ok:
            raise SystemExit(1)

    return audit_cli
