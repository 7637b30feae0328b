"""``flask`` commands: db upgrade, users, tokens, seed, worker, audit."""
from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from core.db import session


def upgrade_database(url: str | None = None, revision: str = "head") -> None:
    from alembic import command
    from alembic.config import Config

    from app.config import ROOT

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["url"] = url or current_app.config["DATABASE_URL"]
    command.upgrade(cfg, revision)


def init_app(app: Flask) -> None:
    db_cli = AppGroup("db", help="Database schema (Alembic).")

    @db_cli.command("upgrade")
    def db_upgrade():
        """Apply every migration."""
        upgrade_database()
        click.echo("database at head")

    users_cli = AppGroup("users", help="Accounts.")

    @users_cli.command("create")
    @click.option("--email", required=True)
    @click.option("--name", required=True)
    @click.option("--role", required=True)
    @click.option("--node", "node_code", required=True, help="SIIIR or county code of the node")
    @click.option("--password", default=None, help="Omit to be prompted")
    def users_create(email, name, role, node_code, password):
        """Create a user with one membership."""
        from core.errors import DomainError
        from tenants import operations, queries
        from tenants.models import User
        from sqlalchemy import select

        node = queries.node_by_code(node_code)
        if node is None:
            raise click.ClickException(f"no node with code {node_code}")
        if password is None:
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        try:
            user = session.execute(select(User).where(User.email == email.lower())).scalar()
            if user is None:
                user = operations.create_user(email=email, name=name, password=password)
            operations.add_membership(user, node, role)
            session.commit()
        except DomainError as e:
            session.rollback()
            raise click.ClickException(e.message) from None
        click.echo(f"user {user.email} is {role} at {node.name}")

    tokens_cli = AppGroup("tokens", help="Personal access tokens.")

    @tokens_cli.command("create")
    @click.argument("email")
    @click.option("--name", default="cli")
    @click.option("--read-only", is_flag=True)
    def tokens_create(email, name, read_only):
        """Issue a token for EMAIL and print it (shown once)."""
        from sqlalchemy import select

        from tenants import operations
        from tenants.models import User

        user = session.execute(select(User).where(User.email == email.lower())).scalar()
        if user is None:
            raise click.ClickException(f"no user {email}")
        _tok, raw = operations.issue_token(user, name, "read" if read_only else "read write")
        session.commit()
        click.echo(raw)

    seed_cli = AppGroup("seed", help="Demo and synthetic data.")

    @seed_cli.command("demo")
    def seed_demo():
        """Ministry, Cluj, Iași and București with schools, units, classes and one account per role."""
        from tenants import demo

        if demo.already_seeded():
            click.echo("demo data already present")
        else:
            demo.seed()
            session.commit()
        click.echo(demo.accounts_text())

    @app.cli.command("worker")
    @click.argument("queues", nargs=-1)
    def worker(queues):
        """Run an RQ worker on the given queues (default: default exports emails)."""
        from rq import Worker

        from exports import jobs

        if jobs.backend.redis is None:
            raise click.ClickException("REDIS_URL is not set: jobs run in-process, no worker needed")
        Worker(list(queues or jobs.QUEUES), connection=jobs.backend.redis).work(with_scheduler=False)

    audit_cli = AppGroup("audit", help="The tamper-evident audit log.")

    @audit_cli.command("verify")
    def audit_verify():
        """Walk the hash chain; name the first broken entry."""
        from core import audit

        ok, bad_id, message = audit.verify()
        click.echo(message)
        if not ok:
            raise SystemExit(1)

    for group in (db_cli, users_cli, tokens_cli, seed_cli, audit_cli):
        app.cli.add_command(group)
