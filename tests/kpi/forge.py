"""A fake GitHub / GitLab comments API on a real loopback HTTP server (stdlib `http.server`, in a thread).

Only the routes the KPI comment uses, with the forges' own shapes: GitHub's issue comments (Bearer token,
PATCH to edit) and GitLab's merge-request notes (PRIVATE-TOKEN header, PUT to edit), both paginated by
`per_page`/`page`.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

TOKEN = "s3cr3t-forge-token"


@dataclass
class Forge:
    """The comments of one request, and every call the server saw (method, path)."""

    url: str = ""
    comments: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)
    next_id: int = 1000

    def add(self, body: str) -> int:
        self.next_id += 1
        self.comments.append({"id": self.next_id, "body": body})
        return self.next_id


_GITHUB_LIST = re.compile(r"/repos/([^/]+/[^/]+)/issues/(\d+)/comments")
_GITHUB_EDIT = re.compile(r"/repos/([^/]+/[^/]+)/issues/comments/(\d+)")
_GITLAB_LIST = re.compile(r"/api/v4/projects/([^/]+)/merge_requests/(\d+)/notes")
_GITLAB_EDIT = re.compile(r"/api/v4/projects/([^/]+)/merge_requests/(\d+)/notes/(\d+)")


def _handler(forge: Forge) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # quiet test output
            pass

        def _authorised(self) -> bool:
            return (
                self.headers.get("Authorization") == f"Bearer {TOKEN}"
                or self.headers.get("PRIVATE-TOKEN") == TOKEN
            )

        def _send(self, status: int, payload: object) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _route(self, method: str) -> None:
            parts = urlsplit(self.path)
            path = parts.path
            forge.calls.append((method, unquote(path)))
            if not self._authorised():
                self._send(401, {"message": "Bad credentials"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else {}
            if method == "GET" and (_GITHUB_LIST.fullmatch(path) or _GITLAB_LIST.fullmatch(path)):
                query = parse_qs(parts.query)
                per_page, page = int(query["per_page"][0]), int(query["page"][0])
                self._send(200, forge.comments[(page - 1) * per_page : page * per_page])
            elif method == "POST" and (_GITHUB_LIST.fullmatch(path) or _GITLAB_LIST.fullmatch(path)):
                self._send(201, {"id": forge.add(body["body"]), "body": body["body"]})
            elif (method == "PATCH" and (found := _GITHUB_EDIT.fullmatch(path))) or (
                method == "PUT" and (found := _GITLAB_EDIT.fullmatch(path))
            ):
                wanted = int(found.groups()[-1])
                for comment in forge.comments:
                    if comment["id"] == wanted:
                        comment["body"] = body["body"]
                        self._send(200, comment)
                        return
                self._send(404, {"message": "Not Found"})
            else:
                self._send(404, {"message": "Not Found"})

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_PATCH(self) -> None:
            self._route("PATCH")

        def do_PUT(self) -> None:
            self._route("PUT")

    return Handler


@contextmanager
def serve_forge() -> Iterator[Forge]:
    """A fake forge on 127.0.0.1 at a free port, stopped on exit."""
    forge = Forge()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(forge))
    forge.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield forge
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
