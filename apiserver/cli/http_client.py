"""A small synchronous HTTP client for the client commands, on httpx.

It turns every failure into a CliError with one readable line: an unreachable server, a TLS
problem, or an error Status from the server (ApiCallError). Tokens travel only in the
Authorization header, never in a URL or a message.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from .clientconfig import ClientConfig
from .errors import ApiCallError, Unreachable

USER_AGENT = "apiserver-cli/0.1"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"


class ApiClient:
    """`request()` returns the decoded JSON body of a 2xx answer, or raises CliError."""

    def __init__(self, config: ClientConfig, timeout: float = 30.0) -> None:
        self.config = config
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if config.token:
            headers["Authorization"] = f"Bearer {config.token}"
        self._http = httpx.Client(
            base_url=config.server, headers=headers, verify=config.verify, timeout=timeout, trust_env=False
        )

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        try:
            response = self._http.request(
                method, path, params=_clean(params), json=json, content=content, headers=headers
            )
        except httpx.ConnectError as exc:
            raise Unreachable(f"cannot reach the server at {self.config.server}: {_cause(exc)}") from None
        except httpx.TimeoutException:
            raise Unreachable(f"the server at {self.config.server} did not answer in time") from None
        except httpx.HTTPError as exc:
            raise Unreachable(f"request to {self.config.server} failed: {_cause(exc)}") from None
        if response.is_success:
            return response.json() if response.content else None
        raise ApiCallError(response.status_code, _status(response))

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)


# What a YAML reader refuses to see raw (PyYAML's NON_PRINTABLE); JSON may escape it instead.
_NOT_YAML_PRINTABLE = re.compile(r"[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")


def apply_body(obj: Any) -> bytes:
    """An apply patch: JSON (which is YAML) with every character readable by the server's YAML parser.

    Not `ensure_ascii`: that writes characters beyond the BMP as surrogate pairs, which YAML
    decodes into two invalid halves; escape only the few characters YAML forbids raw.
    """
    text = json.dumps(obj, ensure_ascii=False)
    return _NOT_YAML_PRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text).encode("utf-8")


def _clean(params: dict[str, Any] | None) -> dict[str, Any] | None:
    return {k: v for k, v in params.items() if v not in (None, "", False)} if params else None


def _status(response: httpx.Response) -> dict[str, Any]:
    """The server's Status, or a stand-in when something else (a proxy) answered."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("kind") == "Status":
        return body
    text = " ".join(response.text.split())[:200]
    return {"message": text or response.reason_phrase, "reason": response.reason_phrase.replace(" ", "")}


def _cause(exc: Exception) -> str:
    """The innermost reason (e.g. `[Errno 111] Connection refused`), on one line."""
    while exc.__context__ is not None and not str(exc):
        exc = exc.__context__  # type: ignore[assignment]
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
