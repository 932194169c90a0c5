"""Real local receivers for notification tests: an HTTP webhook endpoint and an SMTP server."""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class HttpReceiver:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_first: int = 0
    seen: int = 0

    @property
    def keys(self) -> list[str]:
        return [r["key"] for r in self.requests]


@contextmanager
def http_receiver(fail_first: int = 0) -> Iterator[HttpReceiver]:
    lock = threading.Lock()
    state = HttpReceiver(url="", fail_first=fail_first)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                state.seen += 1
                failing = state.seen <= state.fail_first
                if not failing:
                    state.requests.append({"key": self.headers.get("Idempotency-Key"), "body": json.loads(body)})
            self.send_response(503 if failing else 200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class SmtpReceiver:
    port: int
    messages: list[dict[str, str]] = field(default_factory=list)
    #: The first `fail_first` messages are read whole, then refused with 451 (try again later): kept here.
    refused: list[dict[str, str]] = field(default_factory=list)
    fail_first: int = 0


@contextmanager
def smtp_receiver(fail_first: int = 0) -> Iterator[SmtpReceiver]:
    """Enough SMTP for smtplib: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT."""
    state = SmtpReceiver(port=0, fail_first=fail_first)
    lock = threading.Lock()

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.wfile.write(b"220 localhost ready\r\n")
            rcpt: list[str] = []
            while True:
                line = self.rfile.readline()
                if not line:
                    return
                command = line.decode().strip()
                verb = command.split(" ", 1)[0].upper()
                if verb in ("EHLO", "HELO"):
                    self.wfile.write(b"250 localhost\r\n")
                elif verb == "MAIL":
                    rcpt = []
                    self.wfile.write(b"250 OK\r\n")
                elif verb == "RCPT":
                    rcpt.append(command.split(":", 1)[1].strip(" <>"))
                    self.wfile.write(b"250 OK\r\n")
                elif verb == "DATA":
                    self.wfile.write(b"354 go ahead\r\n")
                    data = []
                    while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                        data.append(chunk.decode())
                    text = "".join(data)
                    message_id = next(
                        (h.split(":", 1)[1].strip() for h in text.splitlines() if h.lower().startswith("message-id:")),
                        "",
                    )
                    received = {"to": ",".join(rcpt), "id": message_id, "text": text}
                    with lock:
                        failing = len(state.refused) < state.fail_first
                        (state.refused if failing else state.messages).append(received)
                    self.wfile.write(b"451 try again later\r\n" if failing else b"250 queued\r\n")
                elif verb == "QUIT":
                    self.wfile.write(b"221 bye\r\n")
                    return
                else:
                    self.wfile.write(b"250 OK\r\n")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def closed_port_url() -> str:
    """A URL on which nothing listens (connection refused)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"
