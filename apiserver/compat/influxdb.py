"""The InfluxDB v2 facade: org secrets (`/api/v2/orgs/{orgID}/secrets…`), orgs, ping, health, ready.

What `influxdb-client`, the `influx` CLI and the InfluxDB UI see is InfluxDB OSS 2.7 (reference:
influxdb-secrets.md); what they touch is the one store of SecureValues, through the
FacadeValues service (each key is a SecureValue, named from the key, with the exact key in an
annotation). Every namespace is an org, addressed by the org ID its annotation carries.

A secrets request is checked in influxd's order: credentials (the HTTP edge, 401), the org ID
(400 `corrupt ID provided: …`), the org itself (404 `404 page not found`, also when the caller may
not see it), the route (405 bare, or a text 404 for deeper paths), the body (400 `failed to
unmarshal json: …`), the secrets permission (401 `read:orgs/<id>/secrets is unauthorized` /
`write:…`), then the service call. Values written here get a fixed description and the configured
decrypter identity; there is no value size limit beyond the request body limit, as in InfluxDB.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from ..http.body import read_body
from ..http.context import REQUEST_ID
from ..http.middlewares import SURFACES, require_principal
from ..machinery.context import Principal, RequestContext
from ..machinery.errors import Forbidden, NotFound
from ..resources import INFLUXDB_ORG_ID
from ..resources.namespace import NAMESPACES
from ..services.facade_namespaces import FacadeNamespaces
from ..services.facade_values import FacadeValues, FacadeWrite
from ..services.secret_bytes import SecretBytes
from . import influxdb_errors as errors
from .influxdb_errors import EmptyStatus, InfluxError, PlainNotFound, influx_json, no_content
from .influxdb_json import GoJSONError, decode_secret_keys, decode_string_map

DESCRIPTION = "InfluxDB org secret"  # fixed description of values created here (≤ 25 runes)
ORGS = "/api/v2/orgs"
_SECRETS = "/secrets"
_CLI_DELETE = ("delete", "{delete}")  # influx CLI 2.1–2.6 POST to a literal, unexpanded `{delete}`
_CORS_METHODS = "POST, GET, OPTIONS, PUT, DELETE, PATCH"
_CORS_HEADERS = "Accept, Content-Type, Content-Length, Accept-Encoding, Authorization, User-Agent"
MAX_PAGE = 100


def parse_id(text: str, prefix: str = "") -> str:
    """influxd's `platform.IDFromString`: 16 hex characters, not all zero; returned lower case."""
    if len(text.encode()) != 16:
        raise InfluxError("invalid", prefix + "id must have a length of 16 bytes")
    if any(c not in "0123456789abcdefABCDEF" for c in text) or int(text, 16) == 0:
        raise InfluxError("invalid", prefix + "invalid ID")
    return text.lower()


def _rfc3339(timestamp: str | None) -> str:
    return timestamp or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class InfluxDBFacade:
    def __init__(self, values: FacadeValues, namespaces: FacadeNamespaces, decrypter: str) -> None:
        self.values = values
        self.namespaces = namespaces
        self.decrypter = decrypter
        self._started = time.time()

    def routes(self) -> list[web.RouteDef]:
        return [
            web.route("*", ORGS + "/{org_id}/secrets{tail:.*}", self.secrets),
            web.get(ORGS, self.list_orgs, allow_head=False),
            web.get(ORGS + "/{org_id}", self.get_org, allow_head=False),
            web.route("*", "/ping", self.ping),
            web.get("/health", self.health, allow_head=False),
            web.get("/ready", self.ready, allow_head=False),
        ]

    # -- secrets --------------------------------------------------------------------------

    async def secrets(self, request: web.Request) -> web.StreamResponse:
        if request.method == "OPTIONS":
            return self._preflight(request)
        principal = require_principal(request)
        org_segment, tail = _split_secrets_path(request.rel_url.raw_path)
        org_id = parse_id(unquote(org_segment), "corrupt ID provided: ")
        namespace = self._org_namespace(principal, org_id)
        action, key = _route(request.method, tail)
        ctx = _context(request, principal)
        if action == "list":
            self._require(principal, org_id, namespace, "read", ["list"])
            keys = await self.values.keys(ctx, namespace)
            links = {"org": f"{ORGS}/{org_id}", "self": f"{ORGS}/{org_id}/secrets"}
            return influx_json({"links": links, "secrets": keys})
        if action == "patch":
            pairs = _decode(decode_string_map, await read_body(request))
            self._require(principal, org_id, namespace, "write", ["create", "update"])
            writes = [
                FacadeWrite(
                    key=k, value=SecretBytes(v.encode()), new_description=DESCRIPTION, add_decrypters=[self.decrypter]
                )
                for k, v in pairs.items()
            ]
            if writes:
                await self._write(org_id, self.values.upsert(ctx, namespace, writes))
            return no_content()
        keys = [key] if action == "delete" else _decode(decode_secret_keys, await read_body(request))
        self._require(principal, org_id, namespace, "write", ["delete"])
        if keys:
            await self._write(org_id, self.values.delete(ctx, namespace, keys))
        return no_content()

    def _org_namespace(self, principal: Principal, org_id: str) -> str:
        namespace = self.namespaces.by_influxdb_org_id(org_id)
        name = namespace["metadata"]["name"] if namespace else None
        if name is None or not self.namespaces.visible(principal, name):
            raise InfluxError("not found", "404 page not found")
        return name

    def _require(self, principal: Principal, org_id: str, namespace: str, action: str, verbs: list[str]) -> None:
        """InfluxDB's `read|write:orgs/<id>/secrets` permission, checked before the body is acted on."""
        if not self.values.allows_any(principal, namespace, verbs):
            raise _denied(action, org_id)

    async def _write(self, org_id: str, call) -> Any:
        try:
            return await call
        except Forbidden:  # a per-name permission refused one of the keys
            raise _denied("write", org_id) from None
        except NotFound as exc:
            if exc.kind == NAMESPACES.resource:  # the org went away meanwhile
                raise InfluxError("not found", "404 page not found") from None
            raise

    @staticmethod
    def _preflight(request: web.Request) -> web.Response:
        origin = request.headers.get("Origin")
        if not origin:
            raise EmptyStatus(405)
        return web.Response(
            status=204,
            headers={
                **errors.SERVER_HEADERS,
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": _CORS_METHODS,
                "Access-Control-Allow-Headers": _CORS_HEADERS,
            },
        )

    # -- orgs -----------------------------------------------------------------------------

    async def list_orgs(self, request: web.Request) -> web.Response:
        principal = require_principal(request)
        query = request.query
        limit = _int_param(query, "limit", 20)
        if not 1 <= limit <= MAX_PAGE:
            raise InfluxError("invalid", f"limit must be between 1 and {MAX_PAGE}")
        offset = _int_param(query, "offset", 0)
        if offset < 0:
            raise InfluxError("invalid", "offset must be greater than or equal to 0")
        descending = query.get("descending", "false").lower() in ("true", "1", "t")
        candidates = self.namespaces.all()
        org_id = query.get("orgID")
        if org_id:
            try:
                wanted = parse_id(org_id)
            except InfluxError:
                wanted = None  # influxd ignores an orgID it cannot parse
            if wanted is not None:
                candidates = [ns for ns in candidates if _org_id(ns) == wanted]
                if not candidates:
                    raise InfluxError("not found", "organization not found")
        name = query.get("org")
        if name:
            candidates = [ns for ns in candidates if ns["metadata"]["name"] == name]
            if not candidates:
                raise InfluxError("not found", f'organization name "{name}" not found')
        visible = [ns for ns in candidates if self.namespaces.visible(principal, ns["metadata"]["name"])]
        visible.sort(key=_org_id, reverse=descending)
        page = visible[offset : offset + limit]
        return influx_json({"links": {"self": ORGS}, "orgs": [_org(ns) for ns in page]})

    async def get_org(self, request: web.Request) -> web.Response:
        principal = require_principal(request)
        org_id = parse_id(request.match_info["org_id"])
        namespace = self.namespaces.by_influxdb_org_id(org_id)
        if namespace is None or not self.namespaces.visible(principal, namespace["metadata"]["name"]):
            raise InfluxError("not found", "organization not found")
        return influx_json(_org(namespace))

    # -- server -------------------------------------------------------------------------

    async def ping(self, request: web.Request) -> web.Response:
        if request.method not in ("GET", "HEAD"):
            return web.Response(status=405, headers=errors.SERVER_HEADERS)  # outside /api/v2: answered here
        return web.Response(status=204, headers={**errors.SERVER_HEADERS, "Content-Type": "text/plain; charset=utf-8"})

    async def health(self, request: web.Request) -> web.Response:
        body = {
            "name": "influxdb",
            "message": "ready for queries and writes",
            "status": "pass",
            "checks": [],
            "version": errors.VERSION,
            "commit": "apiserver",
        }
        response = influx_json(body, pretty=False)
        assert isinstance(response.body, bytes)
        response.body = response.body + b"\n"
        return response

    async def ready(self, request: web.Request) -> web.Response:
        started = datetime.fromtimestamp(self._started, UTC)
        up = time.time() - self._started
        return influx_json(
            {"status": "ready", "started": started.isoformat().replace("+00:00", "Z"), "up": f"{up:.3f}s"}
        )


# -- helpers ------------------------------------------------------------------------------


def _split_secrets_path(raw_path: str) -> tuple[str, str]:
    """(org segment, rest after `/secrets`) of the raw, still percent-encoded path; one trailing `/` stripped."""
    if raw_path.endswith("/"):
        raw_path = raw_path[:-1]
    org_segment, _, rest = raw_path[len(ORGS) + 1 :].partition("/")
    rest = "/" + rest
    if not rest.startswith(_SECRETS) or (len(rest) > len(_SECRETS) and rest[len(_SECRETS)] != "/"):
        raise PlainNotFound()
    return org_segment, rest[len(_SECRETS) :]


def _route(method: str, tail: str) -> tuple[str, str]:
    """The action for a method and the path after `/secrets`: chi's 405 (bare) or Go's text 404."""
    if tail in ("", "/"):
        actions = {"GET": "list", "PATCH": "patch"}
        if method not in actions:
            raise EmptyStatus(405)
        return actions[method], ""
    segment = tail[1:]
    if "/" in segment:
        raise PlainNotFound()
    key = unquote(segment, errors="replace")  # properly decoded, `%2F` included (influxd does not)
    if method == "DELETE":
        return "delete", key
    if method == "POST" and key in _CLI_DELETE:
        return "delete-many", ""
    raise EmptyStatus(405)


def _decode(decoder, raw: bytes):
    try:
        return decoder(raw)
    except GoJSONError as exc:
        raise InfluxError("invalid", f"failed to unmarshal json: {exc}") from None


def _denied(action: str, org_id: str) -> InfluxError:
    return InfluxError("unauthorized", f"{action}:orgs/{org_id}/secrets is unauthorized")


def _context(request: web.Request, principal: Principal) -> RequestContext:
    agent = request.headers.get("User-Agent", "") or "influxdb"
    return RequestContext(
        principal=principal,
        request_id=request.get(REQUEST_ID, ""),
        default_manager=agent.split("/")[0][:128] or "influxdb",
    )


def _int_param(query, name: str, default: int) -> int:
    text = query.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text, 10)
    except ValueError:
        raise InfluxError("invalid", f'strconv.Atoi: parsing "{text}": invalid syntax') from None


def _org_id(namespace: dict[str, Any]) -> str:
    return (namespace["metadata"].get("annotations") or {}).get(INFLUXDB_ORG_ID, "")


def _org(namespace: dict[str, Any]) -> dict[str, Any]:
    """influxd's org response (`tenant/http_server_org.go` newOrgResponse)."""
    meta = namespace["metadata"]
    org_id, name = _org_id(namespace), meta["name"]
    base = f"{ORGS}/{org_id}"
    created = _rfc3339(meta.get("creationTimestamp"))
    links = {
        "self": base,
        "members": f"{base}/members",
        "owners": f"{base}/owners",
        "secrets": f"{base}/secrets",
        "labels": f"{base}/labels",
        "logs": f"{base}/logs",
        "buckets": f"/api/v2/buckets?org={name}",
        "tasks": f"/api/v2/tasks?org={name}",
        "dashboards": f"/api/v2/dashboards?org={name}",
    }
    return {"links": links, "id": org_id, "name": name, "description": "", "createdAt": created, "updatedAt": created}


def setup(app: web.Application, values: FacadeValues, namespaces: FacadeNamespaces, decrypter: str) -> InfluxDBFacade:
    """Mount the facade's routes over the services it calls and register its error dialect."""
    facade = InfluxDBFacade(values, namespaces, decrypter)
    app.router.add_routes(facade.routes())
    surfaces = app[SURFACES]
    surfaces.add_dialect("/api/v2/", errors.render)
    surfaces.public_paths.update({"/ping", "/health", "/ready"})
    return facade


__all__ = ["DESCRIPTION", "InfluxDBFacade", "parse_id", "setup"]
