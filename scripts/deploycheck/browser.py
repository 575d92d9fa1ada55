"""The walk: a browser over https://portal.example.ru (127.0.0.1:443)."""

from __future__ import annotations

import http.client
import re
import socket
import ssl
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

from .common import HOST, PASSWORD, expect, totp


class Browser:
    """HTTPS to 127.0.0.1:443 with SNI and Host portal.example.ru, trusting only the throwaway
    certificate, with a cookie jar. Every answer is kept (`answers`) for the checks that
    apply to all of them."""

    answers: list[tuple[str, int, http.client.HTTPMessage]] = []

    def __init__(self, cafile: Path) -> None:
        self.context = ssl.create_default_context(cafile=str(cafile))
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, *, form: dict | None = None, headers=None):
        conn = http.client.HTTPSConnection(HOST, 443, context=self.context, timeout=90)
        raw = socket.create_connection(("127.0.0.1", 443), timeout=90)
        conn.sock = self.context.wrap_socket(raw, server_hostname=HOST)
        all_headers = {"User-Agent": "cdt-deploy-check"}
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
            # Django checks the Referer of an HTTPS form post against the host.
            all_headers["Referer"] = f"https://{HOST}{path}"
        all_headers.update(headers or {})
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        data = response.read()
        for value in response.headers.get_all("Set-Cookie") or []:
            cookie = SimpleCookie()
            cookie.load(value)
            for key, morsel in cookie.items():
                self.cookies[key] = morsel.value
        conn.close()
        Browser.answers.append((f"{method} {path}", response.status, response.headers))
        return response.status, response.headers, data

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def page(self, path: str) -> str:
        status, _, body = self.get(path)
        expect(status == 200, f"GET {path}: expected 200, got {status}")
        return body.decode()

    def csrf_form(self, path: str) -> tuple[str, str]:
        html = self.page(path)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        expect(token is not None, f"GET {path}: no CSRF token in the page")
        return html, token.group(1)

    def sign_in(self, username: str, password: str = PASSWORD, path="/accounts/login/") -> str:
        _, token = self.csrf_form(path)
        status, headers, _ = self.request(
            "POST",
            path,
            form={"csrfmiddlewaretoken": token, "username": username, "password": password},
        )
        location = headers.get("Location", "")
        expect(
            status == 302 and "/login/" not in location,
            f"signing in as {username}: expected a 302 away from the login page, got {status} "
            f"to {location!r}",
        )
        return location

    def enrol_second_factor(self, who: str) -> None:
        """Production asks for a second factor; the person has none yet, so every page sends
        them to connect an authenticator app: done here with the secret the page shows."""
        status, headers, _ = self.get("/")
        location = headers.get("Location", "")
        if location == "/":
            status, headers, _ = self.get(location)
            location = headers.get("Location", "")
        expect(
            status == 302 and location.startswith("/accounts/two-factor/setup/"),
            f"{who} was not asked to connect an authenticator (got {status} to {location!r})",
        )
        html, token = self.csrf_form("/accounts/two-factor/setup/?next=/")
        secret = re.search(r'data-secret="([A-Z2-7=]+)"', html)
        expect(secret is not None, "the enrolment page shows no secret (data-secret)")
        status, headers, _ = self.request(
            "POST",
            "/accounts/two-factor/setup/?next=/",
            form={"csrfmiddlewaretoken": token, "code": totp(secret.group(1)), "next": "/"},
        )
        expect(
            status == 302 and headers["Location"].startswith("/accounts/two-factor/codes/"),
            f"{who} connecting the authenticator: expected 302 to the recovery codes, got "
            f"{status} {headers.get('Location')!r}",
        )
        codes = self.page(headers["Location"])
        expect('id="recovery-codes"' in codes, "the recovery codes page shows no codes")


def plain_http(path: str) -> tuple[int, http.client.HTTPMessage, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", 80, timeout=30)
    conn.request("GET", path, headers={"Host": HOST})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    Browser.answers.append((f"GET http:{path}", response.status, response.headers))
    return response.status, response.headers, body


def handshake(cafile: Path, version: ssl.TLSVersion, ciphers: str | None = None):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(str(cafile))
    context.minimum_version = context.maximum_version = version
    if ciphers:
        context.set_ciphers(ciphers)
    with (
        socket.create_connection(("127.0.0.1", 443), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=HOST) as tls,
    ):
        return tls.version(), tls.cipher()[0]
