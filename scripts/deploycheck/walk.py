"""The portal as its people meet it on the machine the guide set up: /healthz, plain HTTP sent
to HTTPS, the signed-in walk, a teacher's confirmation and the director's documents. A part of
`Inside`, which holds the plan and the logs these checks read."""

from __future__ import annotations

import hashlib
import json
import re
import ssl
import time
from pathlib import Path

from .browser import Browser, handshake, plain_http
from .common import (
    FORGED_ADDRESS,
    HOST,
    MEDIA,
    PASSWORD,
    STATE,
    expect,
    psql,
    say,
    tail,
)
from .guide import SUPERUSER


class PortalWalk:
    """The checks of the running portal; `Inside` gives them `plan` and `logs`."""

    plan: dict
    logs: Path

    def cafile(self) -> Path:
        return Path(f"/etc/letsencrypt/live/{HOST}/fullchain.pem")

    def healthy(self, *, wait: float) -> str:
        """/healthz: 200, and, when it answers with lines, database, queue and worker ok
        (waiting up to `wait` seconds after the worker's start for its heartbeat)."""
        started = json.loads((STATE / "units" / "cdt-portal-worker.json").read_text())["started"]
        browser = Browser(self.cafile())
        while True:
            status, _, body = browser.get("/healthz")
            text = body.decode(errors="replace").strip()
            lines = text.splitlines()
            wanted = ("database: ok", "queue: ok", "worker: ok")
            if len(lines) > 1:
                ok = status == 200 and all(any(ln.startswith(w) for ln in lines) for w in wanted)
            else:
                ok = status == 200
            if ok:
                return text
            expect(
                time.time() < started + wait,
                f"/healthz: {status} {text!r} {wait:.0f} s after the worker started",
            )
            time.sleep(2)

    def walk(self) -> None:
        cafile = self.cafile()
        text = self.healthy(wait=90)
        say("/healthz over HTTPS: 200 " + " | ".join(text.splitlines()))

        status, _, _ = plain_http("/healthz")
        expect(status == 200, f"/healthz over plain HTTP: expected 200, got {status}")
        status, headers, _ = plain_http("/regulation/")
        expect(
            status == 301 and headers["Location"] == f"https://{HOST}/regulation/",
            f"plain HTTP /regulation/: expected 301 to https, got {status} {headers['Location']!r}",
        )
        say("plain HTTP: /healthz 200, other addresses 301 to HTTPS")

        version, cipher = handshake(cafile, ssl.TLSVersion.TLSv1_3)
        expect(version == "TLSv1.3", f"TLS 1.3: got {version}")
        _, cipher12 = handshake(cafile, ssl.TLSVersion.TLSv1_2)
        expect(cipher12.startswith("ECDHE-"), f"TLS 1.2 chose {cipher12}, not an ECDHE cipher")
        try:
            weak = handshake(cafile, ssl.TLSVersion.TLSv1_2, "AES128-SHA:@SECLEVEL=0")
        except ssl.SSLError:
            weak = None
        expect(weak is None, f"TLS 1.2 with AES128-SHA (no forward secrecy) was accepted: {weak}")
        say(f"TLS 1.3 ({cipher}) and TLS 1.2 ({cipher12}) work; TLS 1.2 with AES128-SHA refused")

        browser = Browser(cafile)
        html = browser.page("/")
        expect("Сферум" in html, "the public page does not mention «Сферум»")
        sheets = re.findall(r'href="(/static/[^"]+\.css)"', html)
        expect(bool(sheets), "the public page links no stylesheet under /static/")
        for sheet in sheets:
            expect(
                re.search(r"\.[0-9a-f]{12}\.css$", sheet) is not None,
                f"{sheet}: not a hashed name from the manifest (collectstatic's storage)",
            )
            status, headers, _ = browser.get(sheet)
            age = re.search(r"max-age=(\d+)", headers.get("Cache-Control", ""))
            expect(
                status == 200 and age is not None and int(age.group(1)) >= 365 * 24 * 3600,
                f"{sheet}: expected 200 with a year's max-age, got {status} "
                f"{headers.get('Cache-Control')!r}",
            )
        say(f"public page 200; {len(sheets)} stylesheets with hashed names and a year's max-age")

        # The admin signs in through the portal's own form, then the second factor.
        admin = Browser(cafile)
        status, headers, _ = admin.get("/admin/login/?next=/admin/")
        expect(
            (status, headers.get("Location")) == (302, "/accounts/login/?next=%2Fadmin%2F"),
            f"/admin/login/: expected 302 to the portal's sign-in, got {status} "
            f"{headers.get('Location')!r}",
        )
        admin.sign_in(SUPERUSER, self.plan["superuser_password"])
        admin.enrol_second_factor("the superuser")
        index = admin.page("/admin/")
        expect("Данные всех организаций" in index, "/admin/: not the index")
        admin_css = re.search(r'href="(/static/admin/css/[^"]+\.[0-9a-f]{12}\.css)"', index)
        expect(admin_css is not None, "/admin/: no hashed stylesheet of django.contrib.admin")
        expect(admin.get(admin_css.group(1))[0] == 200, f"{admin_css.group(1)}: not served")
        say(
            "/admin/ with its hashed stylesheet; the superuser of step 6 signs in through the "
            "portal's form and connects an authenticator"
        )

        status, headers, _ = browser.get("/regulation/order.pdf")
        expect(
            status == 302 and headers["Location"].startswith("/accounts/login/"),
            f"anonymous /regulation/order.pdf: expected 302 to sign-in, got {status}",
        )
        say("anonymous /regulation/order.pdf: 302 to sign-in")

        self.confirm_as_teacher()
        self.documents_as_director()

        for what, status, headers in Browser.answers:
            expect(status < 500, f"{what}: {status}")
            expect(headers.get("Server") == "nginx", f"{what}: Server {headers.get('Server')!r}")
            policy = headers.get("Permissions-Policy", "")
            expect("camera=()" in policy, f"{what} ({status}): no Permissions-Policy")
        say(
            f"{len(Browser.answers)} answers: none 5xx; each with `Server: nginx` (no version) "
            "and a Permissions-Policy"
        )

    def confirm_as_teacher(self) -> None:
        teacher = Browser(self.cafile())
        teacher.sign_in("teacher")
        # The demo's institution has its agreement on the простая электронная подпись: the
        # regulation's page leads to it first, and accepting it comes back to the regulation.
        html, _ = teacher.csrf_form("/regulation/")
        agreement = re.search(r'href="(/documents/esign-agreement/\?next=/regulation/)"', html)
        expect(
            agreement is not None, "the teacher's /regulation/ page does not lead to the agreement"
        )
        html, token = teacher.csrf_form(agreement.group(1))
        action = re.search(r'action="(/regulation/versions/\d+/confirm/)[^"]*"', html)
        expect(action is not None, "the agreement's page has no form to accept it")
        status, headers, _ = teacher.request(
            "POST",
            action.group(1),
            form={
                "csrfmiddlewaretoken": token,
                "read": "on",
                "password": PASSWORD,
                "next": "/regulation/",
            },
            headers={"X-Forwarded-For": FORGED_ADDRESS},
        )
        expect(
            status == 302 and headers["Location"] == "/regulation/",
            f"accepting the agreement: expected 302 to /regulation/, got {status} "
            f"{headers.get('Location')!r}",
        )
        html, token = teacher.csrf_form("/regulation/")
        action = re.search(r'action="(/regulation/versions/\d+/confirm/)[^"]*"', html)
        expect(action is not None, "the teacher's /regulation/ page has no confirmation form")
        status, headers, _ = teacher.request(
            "POST",
            action.group(1),
            form={"csrfmiddlewaretoken": token, "read": "on", "password": PASSWORD},
            headers={"X-Forwarded-For": FORGED_ADDRESS},
        )
        expect(
            status == 302 and headers["Location"] == "/regulation/",
            f"confirming the regulation: expected 302 to /regulation/, got {status} "
            f"{headers.get('Location')!r}",
        )
        recorded = psql(
            "SELECT DISTINCT host(a.ip_address) FROM acknowledgements_acknowledgement a "
            "JOIN accounts_user u ON u.id = a.person_id "
            "WHERE u.username = 'teacher' AND a.method = 'online'",
            self.plan["databases"][0],
        )
        expect(
            recorded == "127.0.0.1",
            f"the confirmation recorded the address {recorded!r}; expected exactly '127.0.0.1' "
            f"(nginx must replace the client's X-Forwarded-For {FORGED_ADDRESS})",
        )
        say(
            f"teacher accepted the agreement and confirmed; recorded address 127.0.0.1, the "
            f"forged {FORGED_ADDRESS} ignored"
        )

    def documents_as_director(self) -> None:
        director = Browser(self.cafile())
        director.sign_in("director")
        director.enrol_second_factor("director")
        say("the director connected an authenticator (TOTP from the page's secret)")

        # The live sheet is made by a background job: its page offers «Сформировать», the POST
        # queues the job for the worker, and the same address serves the PDF once it is done.
        html, token = director.csrf_form("/regulation/sheet.pdf")
        expect("Сформировать лист ознакомления" in html, "sheet.pdf: no «Сформировать» button")
        status, headers, _ = director.request(
            "POST", "/regulation/sheet.pdf", form={"csrfmiddlewaretoken": token}
        )
        expect(
            status == 302 and headers.get("Location") == "/regulation/sheet.pdf",
            f"starting the sheet job: expected 302 to /regulation/sheet.pdf, got {status}",
        )
        deadline = time.monotonic() + 60
        while director.get("/regulation/sheet.pdf")[1].get("Content-Type") != "application/pdf":
            expect(
                time.monotonic() < deadline,
                "the worker did not make the sheet in 60 s\n"
                + tail(self.logs / "cdt-portal-worker.log"),
            )
            time.sleep(0.5)
        say("the worker made the sheet (job started by «Сформировать»)")
        for path in ("/regulation/order.pdf", "/regulation/sheet.pdf"):
            status, headers, body = director.get(path)
            expect(status == 200, f"{path}: expected 200, got {status}")
            expect(
                headers.get("Content-Type") == "application/pdf",
                f"{path}: expected application/pdf, got {headers.get('Content-Type')!r}",
            )
            expect(body.startswith(b"%PDF-"), f"{path}: the body is not a PDF: {body[:20]!r}")
            expect(
                "private" in headers.get("Cache-Control", ""),
                f"{path}: expected Cache-Control private, got {headers.get('Cache-Control')!r}",
            )
            # nginx marks a file it sent itself with Accept-Ranges; the portal's answers do not.
            expect(
                headers.get("Accept-Ranges") == "bytes",
                f"{path}: not sent by nginx (X-Accel-Redirect): can www-data read MEDIA_ROOT?",
            )
        say("director downloaded order.pdf and sheet.pdf: application/pdf, private, sent by nginx")

        stored = sorted(p for p in MEDIA.rglob("*.pdf") if p.is_file())
        expect(bool(stored), f"no stored PDF under {MEDIA}")
        order = director.get("/regulation/order.pdf")[2]
        digest = hashlib.sha256(order).hexdigest()
        expect(
            any(hashlib.sha256(p.read_bytes()).hexdigest() == digest for p in stored),
            "the downloaded order.pdf is none of the stored files",
        )
        for file in stored:
            relative = file.relative_to(MEDIA).as_posix()
            for prefix in ("/private-media/", "/_private/"):
                status, _, _ = director.get(prefix + relative)
                expect(
                    status == 404,
                    f"{prefix}{relative}: a stored file must not be reachable by its path; "
                    f"expected 404, got {status}",
                )
        say(f"{len(stored)} stored PDFs: 404 at /private-media/… and at the internal /_private/…")
