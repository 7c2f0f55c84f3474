"""A real OpenAI-compatible HTTP server on 127.0.0.1 with scripted behaviour.

Used where the behaviour under test is the server's (latency, timeouts, HTTP
500s, garbage bodies, adversarial replies) and the live local judge cannot be
made to produce it. It speaks the same protocol over a real socket, so the
client code under test is exercised exactly as in training.
"""
from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


CLOSE = b""  # an answer of raw_server: close the connection after the answer before it, without a word


def _read_request(stream) -> bool:
    """Read one HTTP request (head and Content-Length body) off a connection; False when it was closed."""
    length = None
    while (line := stream.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        length = int(value) if name.strip().lower() == "content-length" else length
    if line == b"":
        return False
    stream.read(length or 0)
    return True


def raw_server(answers: list[bytes | None]):
    """A server that writes raw bytes: for each request it reads, the next answer. ``None`` closes the
    connection instead of answering; ``CLOSE`` after an answer closes that connection once it has been sent
    (a server dropping an idle keep-alive connection). Returns (base URL, stop)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    queue = list(answers)

    def serve():
        while queue:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            with conn, conn.makefile("rb") as requests:
                while queue:
                    if not _read_request(requests):
                        break
                    answer = queue.pop(0)
                    if answer is None:
                        break
                    conn.sendall(answer)
                    if queue and queue[0] == CLOSE:
                        queue.pop(0)
                        break
                    if b"Connection: close" in answer or not (b"Content-Length" in answer or b"chunked" in answer):
                        break  # the body ends with the connection

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{sock.getsockname()[1]}/v1", sock.close


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def nonce_of(messages: list[dict]) -> str:
    """The nonce a judge prompt asks the reply to carry (from the reply line that ends its last turn)."""
    found = re.findall(r"(?:verdict|score)-([0-9a-f]+):", messages[-1]["content"])
    return found[-1] if found else ""


def obedient_judge(verdict: str = "1", score: str = "0.7") -> Callable[[list[dict]], str]:
    """A judge that always answers in the requested format."""
    def reply(messages: list[dict]) -> str:
        nonce = nonce_of(messages)
        if "verdict-" in messages[0]["content"]:
            return f"verdict-{nonce}: {verdict}"
        return f"score-{nonce}: {score}"
    return reply


class _Server(ThreadingHTTPServer):
    # The stdlib default backlog of 5 drops SYNs when a client opens dozens of
    # connections at once, and each drop costs a 1 s TCP retransmit.
    request_queue_size = 256


class ScriptedServer:
    """``reply(messages) -> str`` answers (or ``-> (http_status, message)`` to fail that one
    request); ``latency`` delays each answer; ``status`` makes every request fail with that
    HTTP code; ``garbage`` sends a non-JSON body; ``fail_first`` fails that many requests with
    500 before behaving; ``root`` (e.g. "/v1") answers 404 outside that path, as vLLM and
    `swift deploy` do; ``model`` is the id ``GET …/models`` lists. ``capacity`` makes it serve at most
    that many chat requests at a time (each for ``latency``) and queue the others, as a model server
    with a fixed batch does; ``max_open`` is the most chat requests it ever held at once, queued or served."""

    def __init__(self, reply: Callable[[list[dict]], str] | str = "ok", latency: float = 0.0,
                 status: int | None = None, garbage: bool = False, fail_first: int = 0,
                 port: int | None = None, root: str = "", model: str = "scripted",
                 capacity: int | None = None) -> None:
        self.reply = reply if callable(reply) else (lambda _m, _r=reply: _r)
        self.latency, self.status, self.garbage, self.fail_first = latency, status, garbage, fail_first
        self.root, self.model = root, model
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self._capacity = threading.Semaphore(capacity) if capacity else contextlib.nullcontext()
        self.open_requests = self.max_open = 0
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._httpd = _Server(("127.0.0.1", self.port), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def start(self) -> "ScriptedServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def _send(self, code: int, body: bytes, ctype: str = "application/json") -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _outside_root(self) -> bool:
                if self.path.startswith(server.root + "/"):
                    return False
                self.rfile.read(int(self.headers.get("Content-Length", 0)))  # keep the connection usable
                self._send(404, b'{"detail": "Not Found"}')
                return True

            def do_GET(self):
                if self._outside_root():
                    return
                if server.status and server.status < 500:
                    self._send(server.status, b'{"error": {"message": "scripted failure"}}')
                    return
                self._send(200, json.dumps({"object": "list", "data": [{"id": server.model, "object": "model"}]}).encode())

            def do_POST(self):
                if self._outside_root():
                    return
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with server._lock:
                    server.requests.append(body)
                    failing = server.fail_first > 0
                    server.fail_first -= 1 if failing else 0
                    server.open_requests += 1
                    server.max_open = max(server.max_open, server.open_requests)
                try:
                    with server._capacity:  # queued here while the server is full
                        if server.latency:
                            time.sleep(server.latency)
                finally:
                    with server._lock:
                        server.open_requests -= 1
                if server.status or failing:
                    self._send(server.status or 500, b'{"error": {"message": "scripted failure"}}')
                    return
                if server.garbage:
                    self._send(200, b"<html>definitely not json", "text/html")
                    return
                content = server.reply(body.get("messages", []))
                if isinstance(content, tuple):
                    code, message = content
                    self._send(code, json.dumps({"error": {"message": message}}).encode())
                    return
                payload = {"id": "chatcmpl-scripted", "object": "chat.completion", "created": int(time.time()),
                           "model": body.get("model", "scripted"),
                           "choices": [{"index": 0, "finish_reason": "stop",
                                        "message": {"role": "assistant", "content": content}}],
                           "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
                self._send(200, json.dumps(payload).encode())

        return Handler
