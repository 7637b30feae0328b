"""Development command: ``flask demo-code EMAIL`` prints the current TOTP code of a demo account."""
from __future__ import annotations

import time

import click
from flask import current_app

from app.auth import bp


@bp.cli.command("demo-code")
@click.argument("email")
def demo_code(email: str):
    """Print the current authenticator code of demo account EMAIL (refused in production)."""
    import pyotp

    from tenants import demo

    if current_app.config["ENV"] == "production":
        raise click.ClickException("demo-code is a development command; it is refused in production")
    if email.strip().lower() not in {a[0] for a in demo.ACCOUNTS}:
        raise click.ClickException(f"{email} is not a demo account")
    secret = demo.demo_totp_secret(email.strip().lower())
    left = 30 - int(time.time()) % 30
    click.echo(pyotp.TOTP(secret).now())
    click.echo(f"(valid for {left} more seconds; each code signs in once)", err=True)
