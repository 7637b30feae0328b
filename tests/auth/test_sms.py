"""SMS gateways: the registry, the development outbox, and the HTTP gateway against a local server."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from tenants import sms


@pytest.fixture
def provider():
    """A tiny SMS provider on 127.0.0.1: accepts POSTs with the right bearer token, records them."""
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"auth": self.headers.get("Authorization"), "json": json.loads(body),
                             "type": self.headers.get("Content-Type")})
            ok = self.headers.get("Authorization") == "Bearer t0ken"
            self.send_response(202 if ok else 401)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps({"id": "msg-1"} if ok else {"error": "bad token"}).encode())

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/send", received
    finally:
        server.shutdown()
        server.server_close()


def test_http_gateway_posts_json_with_the_token(provider):
    url, received = provider
    gw = sms.make_gateway("http", url=url, token="t0ken")
    assert gw.send("+40722123456", "Arbor code: 123456") == "msg-1"
    assert received == [{"auth": "Bearer t0ken", "type": "application/json",
                         "json": {"to": "+40722123456", "text": "Arbor code: 123456"}}]


def test_http_gateway_errors_are_sms_errors(provider):
    url, _received = provider
    with pytest.raises(sms.SmsError, match="401"):
        sms.make_gateway("http", url=url, token="wrong").send("+40722123456", "x")
    with pytest.raises(sms.SmsError, match="unreachable"):
        sms.make_gateway("http", url="http://127.0.0.1:9/none", timeout=2).send("+40722123456", "x")
    with pytest.raises(sms.SmsError):
        sms.make_gateway("http", url=None)


def test_outbox_gateway_writes_files(tmp_path):
    gw = sms.make_gateway("outbox", outbox=str(tmp_path / "sms"))
    path = gw.send("+40722123456", "Arbor code: 654321")
    assert "654321" in open(path).read()


def test_registry_refuses_duplicates_and_unknown_names():
    assert {"outbox", "http"} <= set(sms.GATEWAYS)
    with pytest.raises(RuntimeError, match="registered twice"):
        @sms.gateway("http")
        class Another(sms.SmsGateway):
            pass
    with pytest.raises(sms.SmsError, match="unknown SMS gateway"):
        sms.make_gateway("pigeon")
    assert sms.make_gateway(None) is None


def test_the_app_uses_the_http_gateway_when_configured(make_app, provider, monkeypatch):
    url, _ = provider
    monkeypatch.setenv("SMS_GATEWAY_URL", url)
    monkeypatch.setenv("SMS_GATEWAY_TOKEN", "t0ken")
    app = make_app({"ENV": "testing", "SECRET_KEY": "x"})
    gw = app.extensions["arbor_sms"]
    assert isinstance(gw, sms.HttpGateway) and gw.url == url and gw.token == "t0ken"
    # Production without a provider offers no SMS codes (rather than writing them to a folder).
    monkeypatch.delenv("SMS_GATEWAY_URL")
    assert make_app({"ENV": "production", "SECRET_KEY": "x"}).extensions["arbor_sms"] is None


@pytest.mark.parametrize("raw,phone", [("0722 123 456", "+40722123456"), ("+40 (722) 123-456", "+40722123456"),
                                       ("0040722123456", "+40722123456"), ("12", None), ("abc", None)])
def test_phone_numbers_are_normalised(raw, phone):
    assert sms.normalise_phone(raw) == phone
