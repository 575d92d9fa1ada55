"""A person with a browser for the jobs and scale sections: plain HTTP to gunicorn, with the
session and CSRF cookies, a sign-in through the login form, and the answers."""

from __future__ import annotations

import http.client
import re
import secrets
import time
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit, urlunsplit

from jobs_common import PASSWORD, BenchError

# --- a person with a browser: plain HTTP to gunicorn ----------------------------------------


class Person:
    def __init__(self, port: int, name: str) -> None:
        self.port = port
        self.name = name
        self.cookies: dict[str, str] = {}
        self.timings: list[tuple[str, float]] = []

    def request(self, method: str, path: str, *, body=None, headers=None, timeout=300):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        all_headers = {"Host": "127.0.0.1", "User-Agent": "cdt-bench-jobs"}
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        all_headers.update(headers or {})
        started = time.perf_counter()
        try:
            conn.request(method, path, body=body, headers=all_headers)
            response = conn.getresponse()
            data = response.read()
        except TimeoutError as exc:
            raise BenchError(f"{method} {path}: no answer within {timeout} s") from exc
        finally:
            conn.close()
        elapsed = time.perf_counter() - started
        self.timings.append((f"{method} {path}", elapsed))
        for value in response.headers.get_all("Set-Cookie") or []:
            cookie = SimpleCookie()
            cookie.load(value)
            for key, morsel in cookie.items():
                self.cookies[key] = morsel.value
        return Answer(response.status, response.headers, data, elapsed)

    def get(self, path: str, **kwargs) -> Answer:
        return self.request("GET", path, **kwargs)

    def token(self) -> str:
        """The CSRF secret from the cookie: Django accepts it as the form's token."""
        if "csrftoken" not in self.cookies:
            self.get("/accounts/login/")
        return self.cookies["csrftoken"]

    def post(self, path: str, form: dict | None = None, **kwargs) -> Answer:
        fields = {"csrfmiddlewaretoken": self.token(), **(form or {})}
        return self.request(
            "POST",
            path,
            body=urlencode(fields),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            **kwargs,
        )

    def post_file(self, path: str, fields: dict, name: str, filename: str, content: bytes):
        boundary = "----cdtbench" + secrets.token_hex(8)
        parts = []
        for key, value in {"csrfmiddlewaretoken": self.token(), **fields}.items():
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'
                f"{value}\r\n".encode()
            )
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n'.encode()
            + content
            + b"\r\n"
        )
        parts.append(f"--{boundary}--\r\n".encode())
        return self.request(
            "POST",
            path,
            body=b"".join(parts),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )

    def sign_in(self, username: str) -> None:
        self.get("/accounts/login/")
        answer = self.post("/accounts/login/", {"username": username, "password": PASSWORD})
        location = answer.headers.get("Location", "")
        if answer.status != 302 or "/accounts/login/" in location:
            raise BenchError(f"signing in as {username}: HTTP {answer.status} to {location!r}")


class Answer:
    def __init__(self, status, headers, body, elapsed) -> None:
        self.status, self.headers, self.body, self.elapsed = status, headers, body, elapsed

    @property
    def is_pdf(self) -> bool:
        return self.status == 200 and self.body.startswith(b"%PDF-")

    @property
    def location(self) -> str:
        location = self.headers.get("Location", "")
        parts = urlsplit(location)
        return urlunsplit(("", "", parts.path, parts.query, "")) if location else ""

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def job_ids(self) -> list[int]:
        return sorted({int(m) for m in re.findall(r"/jobs/(\d+)/", self.text())})
