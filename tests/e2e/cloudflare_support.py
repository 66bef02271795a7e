"""Helpers of the Cloudflare facade tests: the official SDK pointed at a server, with every request recorded."""

from __future__ import annotations

import itertools
import subprocess
import sys
from dataclasses import dataclass, field

import cloudflare
import httpx
import requests
from harness import Server

_NAMES = itertools.count(1)


@dataclass
class Recorded:
    """Every request the SDK really sent (retries included), as `METHOD path?query`."""

    requests: list[str] = field(default_factory=list)

    def hook(self, request: httpx.Request) -> None:
        self.requests.append(f"{request.method} {request.url.raw_path.decode()}")

    def take(self) -> list[str]:
        taken, self.requests = self.requests, []
        return taken


def sdk(server: Server, token: str | None = None, **kwargs) -> tuple[cloudflare.Cloudflare, Recorded]:
    """The SDK with its default retry policy (so a missing `x-should-retry: false` shows as repeats)."""
    recorded = Recorded()
    http = httpx.Client(event_hooks={"request": [recorded.hook]}, timeout=30)
    if "api_key" not in kwargs:
        kwargs["api_token"] = token or server.admin_token
    client = cloudflare.Cloudflare(base_url=f"{server.url}/client/v4", http_client=http, **kwargs)
    return client, recorded


def new_account(server: Server) -> tuple[str, str]:
    """A fresh namespace (so a fresh one-store account): (namespace, account id from its annotation)."""
    namespace = f"cf-{next(_NAMES)}-{server.port}"
    created = server.create_namespace(namespace)
    return namespace, created["metadata"]["annotations"]["compat.apiserver.local/cloudflare-account-id"]


def cli_token(server: Server, namespace: str, role: str, service_identity: str | None = None) -> str:
    """A token made by `apiserver token create` (it prints the token and nothing else)."""
    args = [
        sys.executable,
        "-m",
        "apiserver",
        "token",
        "create",
        "--server",
        server.url,
        "--token",
        server.admin_token,
        "--namespace",
        namespace,
        "--role",
        role,
    ]
    if service_identity:
        args += ["--service-identity", service_identity]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def raw(server: Server, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
    """A request to `/client/v4{path}` without the SDK (bodies the SDK cannot send, headers to inspect)."""
    headers = {"Authorization": f"Bearer {token or server.admin_token}", **kwargs.pop("headers", {})}
    return requests.request(method, f"{server.url}/client/v4{path}", headers=headers, timeout=30, **kwargs)


def error_of(exc: cloudflare.APIStatusError) -> tuple[int, int, str]:
    """(status, errors[0].code, errors[0].message) of an SDK exception, from the body it parsed."""
    first = exc.body["errors"][0]
    return exc.status_code, first["code"], first["message"]
