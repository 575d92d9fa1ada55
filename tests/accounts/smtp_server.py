"""A small SMTP server on 127.0.0.1 for the tests of sending: it counts connections, commands
and letters, and can behave like real servers do to a connection that is kept open — drop it
while it is idle (with or without «421» first, or with a reset), close it after so many
letters, refuse a recipient, or take a letter and never answer."""

from __future__ import annotations

import re
import socket
import socketserver
import struct
import threading
import time
from collections import Counter
from contextlib import contextmanager

from django.test import override_settings


class SMTPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, *, letters_per_connection: int = 0, busy_after: int = 0, idle_timeout: float = 0
    ) -> None:
        super().__init__(("127.0.0.1", 0), _Session)
        self.letters_per_connection = letters_per_connection  # 0: no limit; else hang up
        self.busy_after = busy_after  # 0: no limit; else «421» to the next MAIL and hang up
        self.idle_timeout = idle_timeout  # 0: never; else «421» and close after this silence
        self.refuse: dict[str, str] = {}  # recipient → the answer to its RCPT, e.g. "550 …"
        self.stall: set[str] = set()  # recipients whose letter is taken and never answered
        self.lock = threading.Lock()
        self.connections = 0
        self.commands: Counter[str] = Counter()
        self.letters: list[tuple[str, ...]] = []  # the recipients of each letter taken
        self._open: set[socket.socket] = set()
        self._dropping: dict[socket.socket, str] = {}
        self._released = threading.Event()

    @property
    def port(self) -> int:
        return self.server_address[1]

    def received(self) -> Counter[str]:
        """Letters taken, per recipient."""
        with self.lock:
            return Counter(r for letter in self.letters for r in letter)

    def open_sessions(self) -> int:
        with self.lock:
            return len(self._open)

    def drop_all(self, how: str = "close") -> None:
        """What a server does to connections idle too long: `421` (answer «421» and close),
        `close` (close without a word) or `reset` (a TCP reset). Returns once they are gone."""
        with self.lock:
            sockets = list(self._open)
            self._dropping.update(dict.fromkeys(sockets, how))
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RD)  # wakes the session waiting for a command
            except OSError:
                pass
        wait_until(lambda: self.open_sessions() == 0)

    def stop(self) -> None:
        self._released.set()
        self.drop_all()
        self.shutdown()
        self.server_close()


class _Session(socketserver.StreamRequestHandler):
    def reply(self, text: str) -> None:
        self.wfile.write(text.encode() + b"\r\n")  # one write per answer: no Nagle delays

    def handle(self) -> None:
        server: SMTPServer = self.server  # type: ignore[assignment]
        with server.lock:
            server.connections += 1
            server._open.add(self.request)
        try:
            self._serve(server)
        except OSError:
            pass
        finally:
            with server.lock:
                server._open.discard(self.request)

    def _serve(self, server: SMTPServer) -> None:
        if server.idle_timeout:
            self.request.settimeout(server.idle_timeout)
        self.reply("220 smtp.test ESMTP")
        recipients: list[str] = []
        taken = 0
        while True:
            try:
                line = self.rfile.readline(65536)
            except TimeoutError:
                self.reply("421 4.4.2 smtp.test Error: timeout exceeded")
                return
            if not line:
                self._dropped(server)
                return
            command = line.decode(errors="replace").rstrip("\r\n")
            verb = command[:4].upper()
            with server.lock:
                server.commands[verb] += 1
            if verb == "EHLO":
                self.reply("250-smtp.test\r\n250-8BITMIME\r\n250 SMTPUTF8")
            elif verb == "HELO":
                self.reply("250 smtp.test")
            elif verb == "MAIL" and server.busy_after and taken >= server.busy_after:
                self.reply("421 4.7.0 smtp.test Too many messages on this connection")
                return
            elif verb in ("MAIL", "RSET"):
                recipients = []
                self.reply("250 OK")
            elif verb == "RCPT":
                found = re.search(r"<([^>]*)>", command)
                address = (found.group(1) if found else command[8:]).lower()
                answer = server.refuse.get(address)
                if answer:
                    self.reply(answer)
                else:
                    recipients.append(address)
                    self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 go ahead")
                while (data := self.rfile.readline(1 << 20)) and data not in (b".\r\n", b".\n"):
                    pass
                with server.lock:
                    server.letters.append(tuple(recipients))
                if server.stall & set(recipients):
                    server._released.wait(30)  # taken; the answer never comes
                    return
                self.reply("250 OK queued")
                taken += 1
                if server.letters_per_connection and taken >= server.letters_per_connection:
                    return  # closes the connection without a word
            elif verb == "NOOP":
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")

    def _dropped(self, server: SMTPServer) -> None:
        with server.lock:
            how = server._dropping.pop(self.request, None)
        if how == "421":
            self.reply("421 4.4.2 smtp.test Error: timeout exceeded")
        elif how == "reset":
            linger = struct.pack("ii", 1, 0)
            self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            self.request.close()  # with no lingering: a reset, not a goodbye


def wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.01)


@contextmanager
def smtp_server(**options):
    """A running server, and the portal's e-mail settings pointed at it."""
    server = SMTPServer(**options)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        with override_settings(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=server.port,
            EMAIL_HOST_USER="",
            EMAIL_HOST_PASSWORD="",
            EMAIL_USE_TLS=False,
            EMAIL_USE_SSL=False,
            EMAIL_TIMEOUT=1,
        ):
            yield server
    finally:
        server.stop()
