"""The jobs section's mail server: a small threaded SMTP server on 127.0.0.1, in the bench
process, that keeps every accepted message."""

from __future__ import annotations

import re
import socketserver
import threading
import time

# --- a local SMTP server --------------------------------------------------------------------


class SMTPServer(socketserver.ThreadingTCPServer):
    """Enough SMTP for Django's backend: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT.
    Every accepted message is kept as (recipients, Message-ID, size, time)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, delay_s: float) -> None:
        super().__init__(("127.0.0.1", 0), SMTPHandler)
        self.delay_s = delay_s
        self.lock = threading.Lock()
        self.messages: list[tuple[tuple[str, ...], str, int, float]] = []
        self.connections = 0

    @property
    def port(self) -> int:
        return self.server_address[1]

    def since(self, mark: int) -> list[tuple[tuple[str, ...], str, int, float]]:
        with self.lock:
            return list(self.messages[mark:])

    def mark(self) -> int:
        with self.lock:
            return len(self.messages)


class SMTPHandler(socketserver.StreamRequestHandler):
    def reply(self, text: str) -> None:
        self.wfile.write(text.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        server: SMTPServer = self.server  # type: ignore[assignment]
        with server.lock:
            server.connections += 1
        self.reply("220 bench.local ESMTP cdt-bench")
        rcpts: list[str] = []
        while True:
            line = self.rfile.readline(65536)
            if not line:
                return
            command = line.decode("utf-8", "replace").rstrip("\r\n")
            verb = command[:4].upper()
            if verb == "EHLO":
                self.wfile.write(b"250-bench.local\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n")
                self.reply("250 SIZE 52428800")
            elif verb == "HELO":
                self.reply("250 bench.local")
            elif verb == "MAIL":
                rcpts = []
                self.reply("250 OK")
            elif verb == "RCPT":
                found = re.search(r"<([^>]*)>", command)
                rcpts.append((found.group(1) if found else command[8:]).lower())
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                size, message_id, headers = 0, "", True
                while True:
                    chunk = self.rfile.readline(1 << 20)
                    if not chunk or chunk in (b".\r\n", b".\n"):
                        break
                    size += len(chunk)
                    if headers:
                        if chunk in (b"\r\n", b"\n"):
                            headers = False
                        elif chunk[:11].lower() == b"message-id:":
                            message_id = chunk[11:].decode("ascii", "replace").strip()
                time.sleep(server.delay_s)
                with server.lock:
                    server.messages.append((tuple(rcpts), message_id, size, time.monotonic()))
                rcpts = []
                self.reply("250 OK queued")
            elif verb == "RSET":
                rcpts = []
                self.reply("250 OK")
            elif verb == "NOOP":
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")
