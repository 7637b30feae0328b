"""The Flask shell: ``create_app`` wires configuration, the database, extensions and blueprints."""
from __future__ import annotations

import logging

from flask import Flask, g, jsonify, redirect, render_template, request, session as web_session, url_for
from werkzeug.middleware.proxy_fix import ProxyFix

from app import config as config_mod


def create_app(overrides: dict | None = None) -> Flask:
    cfg = config_mod.load(overrides)
    app = Flask(__name__, instance_path=cfg["INSTANCE_DIR"], instance_relative_config=False)
    app.config.update(cfg)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(config_mod.ROOT / "app" / "translations")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)

    _init_database(app)
    _init_security(app)  # first, so the https redirect runs before CSRF or any other check
    _init_extensions(app)
    _init_errors(app)
    _register_blueprints(app)
    from app import cli
    cli.init_app(app)
    return app


def _job_context(app: Flask):
    """In-process jobs run in the app that enqueued them (several apps share one process in tests)."""
    def make():
        from flask import current_app, has_app_context
        return (current_app._get_current_object() if has_app_context() else app).app_context()
    return make


def _init_database(app: Flask) -> None:
    from core import db
    from exports import jobs
    from tenants import passwords
    from app import tasks as _tasks  # noqa: F401  (registers every background task)

    if app.config.get("ENGINE") is not None:  # tests hand in an engine bound to their connection
        db.configure(app.config["ENGINE"])
    else:
        db.configure(app.config["DATABASE_URL"])
    passwords.configure(time_cost=app.config["ARGON2_TIME_COST"], memory_cost=app.config["ARGON2_MEMORY_KIB"],
                        parallelism=1 if app.config["ENV"] == "testing" else 4)
    jobs.backend.configure(app.config.get("REDIS_URL"), app_context=_job_context(app))
    from core import mail
    mail.configure(app.config.get("SMTP_URL"), app.config.get("MAIL_FROM"), app.config.get("MAIL_OUTBOX"))

    @app.after_request
    def _commit(response):
        # One commit at the request boundary; anything that failed rolls back.
        if response.status_code < 400:
            db.session.commit()
        else:
            db.session.rollback()
        return response

    @app.teardown_appcontext
    def _remove(_exc):
        db.session.remove()


def _init_extensions(app: Flask) -> None:
    from app.extensions import babel, csrf, login_manager
    from core.db import session
    from tenants.models import User

    def select_locale():
        lang = web_session.get("lang")
        if lang in app.config["LANGUAGES"]:
            return lang
        return app.config["BABEL_DEFAULT_LOCALE"]

    babel.init_app(app, locale_selector=select_locale)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(user_id: str):
        # The cookie carries "<id>:<session_version>": a bumped version kills every older cookie.
        try:
            uid, version = (int(p) for p in user_id.split(":"))
        except ValueError:
            return None
        user = session.get(User, uid)
        if user is None or not user.active or user.session_version != version:
            return None
        return user

    from app.access import actor
    from app.nav import nav_items
    from tenants import policy

    @app.context_processor
    def _template_helpers():
        user = actor()
        return {"can": lambda perm, node=None: policy.can(user, perm, node), "nav_items": nav_items(user),
                "current_lang": select_locale()}


def _init_security(app: Flask) -> None:
    if app.config["PROXY_FIX"]:
        hops = app.config["PROXY_FIX"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    @app.before_request
    def _https_only():
        if app.config["FORCE_HTTPS"] and not request.is_secure:
            return redirect(request.url.replace("http://", "https://", 1), code=308)  # 308 keeps POST a POST
        return None

    @app.after_request
    def _headers(response):
        h = response.headers
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("Referrer-Policy", "same-origin")
        h.setdefault("Content-Security-Policy",
                     "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                     "frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
        if app.config["FORCE_HTTPS"]:
            h.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if g.get("personal_data") or request.path.startswith("/api/"):
            h["Cache-Control"] = "no-store"
        return response


def _init_errors(app: Flask) -> None:
    from app.access import Unauthenticated, wants_json
    from core.errors import DomainError

    def _json_error(status: int, code: str, message: str, details=None):
        return jsonify({"error": {"code": code, "message": message, "details": details}}), status

    @app.errorhandler(Unauthenticated)
    def _unauthenticated(_e):
        if wants_json():
            return _json_error(401, "unauthenticated", "sign in or send a valid bearer token")
        return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))

    @app.errorhandler(DomainError)
    def _domain(e: DomainError):
        if wants_json():
            return _json_error(e.status, e.code, e.message, e.details)
        # Pages show details only when they are text meant for people (machine details are for the API).
        details = e.details if isinstance(e.details, (str, list)) else None
        return render_template("error.html", status=e.status, message=e.message, details=details), e.status

    for status, code in ((400, "bad_request"), (403, "forbidden"), (404, "not_found"), (405, "method_not_allowed"),
                         (413, "too_large"), (500, "server_error")):
        def handler(e, status=status, code=code):
            if wants_json():
                return _json_error(status, code, getattr(e, "description", code))
            return render_template("error.html", status=status, message=None, details=None), status
        app.register_error_handler(status, handler)

    from flask_wtf.csrf import CSRFError

    @app.errorhandler(CSRFError)
    def _csrf(e):
        if wants_json():
            return _json_error(400, "csrf", e.description)
        return render_template("error.html", status=400, message=e.description, details=None), 400


def _register_blueprints(app: Flask) -> None:
    from app.api import bp as api_bp
    from app.auth import bp as auth_bp
    from app.web import bp as web_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(web_bp)
    app.register_blueprint(api_bp, url_prefix="/api/v1")
