"""Tiny servers on 127.0.0.1 that count what reaches them: an attack that would make the
portal connect somewhere shows up here as a request."""

from __future__ import annotations

import http.server
import socket
import threading
from contextlib import contextmanager


@contextmanager
def counting_http_server(body: bytes = b"", content_type: str = "image/png"):
    """An HTTP server on 127.0.0.1; yields (base_url, hits) where hits lists the paths asked."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()


class StallingSMTPServer:
    """An SMTP server on 127.0.0.1 that takes the whole message after DATA and then, when
    `stall` is set, never answers: the case where the message may have been delivered but
    the portal cannot know. Counts connections and complete messages."""

    def __init__(self, *, stall: bool = True) -> None:
        self.stall = stall
        self.connections = 0
        self.messages: list[bytes] = []
        self._stop = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(5)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> StallingSMTPServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        conn.settimeout(0.2)
        reader = _Lines(conn, self._stop)
        with conn:
            conn.sendall(b"220 127.0.0.1 ESMTP test\r\n")
            while (line := reader.line()) is not None:
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    conn.sendall(b"250-127.0.0.1\r\n250 8BITMIME\r\n")
                elif verb in (b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                    conn.sendall(b"250 OK\r\n")
                elif verb == b"DATA":
                    conn.sendall(b"354 go ahead\r\n")
                    body = []
                    while (data := reader.line()) is not None and data != b".":
                        body.append(data)
                    self.messages.append(b"\r\n".join(body))
                    if self.stall:
                        self._stop.wait()  # the message is here; the answer never comes
                        return
                    conn.sendall(b"250 queued\r\n")
                elif verb == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    conn.sendall(b"502 no\r\n")


class _Lines:
    def __init__(self, conn: socket.socket, stop: threading.Event) -> None:
        self.conn, self.stop, self.buffer = conn, stop, b""

    def line(self) -> bytes | None:
        while b"\r\n" not in self.buffer:
            if self.stop.is_set():
                return None
            try:
                chunk = self.conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return None
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line


def closed_port() -> int:
    """A port on 127.0.0.1 nobody listens on: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
