"""E-mail: the outbox in development, real SMTP (a local aiosmtpd server) when SMTP_URL is set, and the queue."""
from __future__ import annotations

import dataclasses
import logging
import socket
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from core import mail
from core.db import session
from exports.models import Job


@pytest.fixture
def outbox(tmp_path):
    saved = dataclasses.replace(mail.settings)
    mail.configure(smtp_url=None, outbox=str(tmp_path / "outbox"), mail_from="Arbor <no-reply@arbor.test>")
    mail.settings.smtp_url = None
    yield tmp_path / "outbox"
    mail.settings.__dict__.update(dataclasses.asdict(saved))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Collect:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session_, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


@pytest.fixture
def smtp_server(outbox):
    """A real SMTP server on 127.0.0.1 (no TLS) that accepts user "arbor" / password "s3cret:p@ss"."""
    handler = Collect()
    logins = []

    def authenticator(_server, _session, _envelope, mechanism, auth_data):
        logins.append((mechanism, auth_data.login, auth_data.password))
        return AuthResult(success=(auth_data.login, auth_data.password) == (b"arbor", b"s3cret:p@ss"), handled=False)

    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, authenticator=authenticator,
                            auth_require_tls=False)
    controller.start()
    handler.port, handler.logins = port, logins
    try:
        yield handler
    finally:
        controller.stop()


def test_outbox_gets_an_eml_file_and_the_console_one_line(outbox, caplog):
    caplog.set_level(logging.INFO, logger="core.mail")
    where = mail.deliver("ana@example.ro", "Invitație în Arbor", "Link secret: https://x/invite/SECRET-TOKEN")
    files = list(outbox.glob("*.eml"))
    assert [str(f) for f in files] == [where]
    msg = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert (msg["To"], msg["Subject"], msg["From"]) == ("ana@example.ro", "Invitație în Arbor",
                                                        "Arbor <no-reply@arbor.test>")
    assert "SECRET-TOKEN" in msg.get_content()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "ana@example.ro" in logged and "Invitație în Arbor" in logged
    assert "SECRET-TOKEN" not in logged


def test_codes_in_a_subject_are_masked_in_logs_and_kept_params(tree, outbox, caplog):
    caplog.set_level(logging.INFO, logger="core.mail")
    job = mail.send("ion@example.ro", "Your Arbor code: 123456", "Code 123456")
    session.commit()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "ion@example.ro" in logged and "Your Arbor code" in logged and "123456" not in logged
    session.expire_all()
    assert session.get(Job, job.id).params == {"to": "ion@example.ro", "subject": "Your Arbor code: …"}
    assert mail.redact("Invitation for Școala nr. 12 — Cluj") == "Invitation for Școala nr. 12 — Cluj"


def test_html_alternative(outbox):
    mail.deliver("ana@example.ro", "S", "plain", html="<p>rich</p>")
    msg = message_from_bytes(next(outbox.glob("*.eml")).read_bytes(), policy=policy.default)
    assert msg.get_body(("plain",)).get_content().strip() == "plain"
    assert msg.get_body(("html",)).get_content().strip() == "<p>rich</p>"


def test_smtp_delivers_for_real(smtp_server, caplog):
    caplog.set_level(logging.INFO, logger="core.mail")
    mail.configure(smtp_url=f"smtp://127.0.0.1:{smtp_server.port}")
    assert mail.deliver("ion@example.ro", "Cod de conectare", "Codul: 123456") == "smtp"
    [(sender, rcpts, msg)] = smtp_server.messages
    assert sender == "no-reply@arbor.test" and rcpts == ["ion@example.ro"]
    assert msg["Subject"] == "Cod de conectare" and "123456" in msg.get_content()
    assert "123456" not in "\n".join(r.getMessage() for r in caplog.records)


def test_smtp_logs_in_with_the_url_credentials(smtp_server):
    mail.configure(smtp_url=f"smtp://arbor:s3cret%3Ap%40ss@127.0.0.1:{smtp_server.port}?starttls=0")
    mail.deliver("ion@example.ro", "S", "B")
    assert smtp_server.logins and smtp_server.logins[-1][1:] == (b"arbor", b"s3cret:p@ss")
    assert len(smtp_server.messages) == 1


def test_smtp_wrong_password_raises(smtp_server):
    import smtplib
    mail.configure(smtp_url=f"smtp://arbor:wrong@127.0.0.1:{smtp_server.port}")
    with pytest.raises(smtplib.SMTPAuthenticationError):
        mail.deliver("ion@example.ro", "S", "B")
    assert smtp_server.messages == []


def test_send_queues_an_emails_job_sent_after_commit(tree, smtp_server):
    mail.configure(smtp_url=f"smtp://127.0.0.1:{smtp_server.port}")
    job = mail.send("ion@example.ro", "Subiect", "Corp cu https://x/invite/TOKEN")
    assert (job.kind, job.queue, job.status, job.node_id) == ("mail.send", "emails", "queued", tree.ministry.id)
    assert smtp_server.messages == []  # nothing leaves before the commit
    session.commit()
    [(_sender, rcpts, msg)] = smtp_server.messages
    assert rcpts == ["ion@example.ro"] and "TOKEN" in msg.get_content()
    session.expire_all()
    job = session.get(Job, job.id)
    assert job.status == "done"
    assert job.params == {"to": "ion@example.ro", "subject": "Subiect"}  # the body is not kept


def test_send_is_dropped_on_rollback(tree, outbox):
    mail.send("ion@example.ro", "Subiect", "Corp")
    session.rollback()
    session.commit()
    assert not outbox.exists() or list(outbox.glob("*.eml")) == []


def test_send_without_a_tree_delivers_after_commit(outbox):
    assert mail.send("ion@example.ro", "Subiect", "Corp") is None
    assert not outbox.exists()
    session.commit()
    assert len(list(outbox.glob("*.eml"))) == 1


def test_bad_scheme_is_refused(outbox):
    mail.configure(smtp_url="http://127.0.0.1:1")
    with pytest.raises(ValueError):
        mail.deliver("a@b.ro", "S", "B")
