"""A small HTTPS client for the production suite: trusts the suite's CA only, keeps cookies, may
connect from another loopback address (nginx then sees a client other than 127.0.0.1).
"""

from __future__ import annotations

import http.client
import json
import re
import ssl
import urllib.parse
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        return json.loads(self.body)


class Client:
    def __init__(self, host: str, port: int, ca_file: Path, *, source: str = "127.0.0.1", scheme: str = "https"):
        self.host, self.port, self.source, self.scheme = host, port, source, scheme
        self.context = ssl.create_default_context(cafile=str(ca_file))
        self.cookies: dict[str, str] = {}

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> Response:
        if self.scheme == "https":
            connection = http.client.HTTPSConnection(
                self.host, self.port, context=self.context, timeout=60, source_address=(self.source, 0)
            )
        else:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=60, source_address=(self.source, 0))
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            result = Response(response.status, response.headers, response.read())
        finally:
            connection.close()
        for header in result.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return result

    def get(self, path: str, headers: dict | None = None) -> Response:
        return self.request("GET", path, headers=headers)

    def post_form(self, path: str, fields: dict, headers: dict | None = None) -> Response:
        body = urllib.parse.urlencode(fields).encode()
        sent = {"Content-Type": "application/x-www-form-urlencoded", "Origin": self.origin, **(headers or {})}
        return self.request("POST", path, body, sent)

    def post_json(self, path: str, data: dict, headers: dict | None = None) -> Response:
        sent = {"Content-Type": "application/json", "Origin": self.origin, **(headers or {})}
        return self.request("POST", path, json.dumps(data).encode(), sent)

    def post_trigger(self, key: str, fields: dict, headers: dict | None = None) -> Response:
        return self.post_form("/api/v1/triggers", fields, {"Authorization": f"Bearer {key}", **(headers or {})})

    # ---- the admin, as a browser uses it ------------------------------------------------------
    def admin_login(self, username: str, password: str) -> None:
        page = self.get("/admin/login/?next=/admin/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        answer = self.post_form(
            "/admin/login/?next=/admin/",
            {"csrfmiddlewaretoken": token, "username": username, "password": password, "next": "/admin/"},
        )
        assert answer.status == 302 and answer.headers["Location"] == "/admin/", (answer.status, answer.text[:500])

    def licence_switch(self, login: str, on: bool) -> Response:
        """Flip a PBX user's licence switch as the PBX users list's switch does (JSON POST with CSRF)."""
        page = self.get(f"/admin/presence/pbxuser/?q={login}")
        assert page.status == 200, page.status
        url = re.search(rf'data-url="([^"]+)"\s+aria-label="Licence for {re.escape(login)}"', page.text).group(1)
        return self.post_json(url, {"on": on}, {"X-CSRFToken": self.cookies["csrftoken"], "Accept": "application/json"})
