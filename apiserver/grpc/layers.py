"""The gRPC edge: status codes, limits and authentication, as layers around a unary method.

A protected method's handler is composed once, when the server is built (`protect`), not per
call as grpcio's server interceptors are: the layers cost a few function calls per call and
nothing else. From the outside in:

- `outer` layers (the server passes `Metering`) see each call's final status code: they wrap
  `StatusCodes`, so a refusal reaches them as the `AbortError` of an aborted call.

- `StatusCodes` turns every failure into the status code Grafana's client understands: a
  `Refusal` carries its own code; a store that cannot be reached, or an error of ours that says
  "try later" (503), is UNAVAILABLE and rate limiting is RESOURCE_EXHAUSTED (both retried by the
  client); anything unexpected is INTERNAL with a generic message, logged by type and frames
  only, since an exception's message might quote a request's data.
- The request arrives as bytes and is decoded inside `StatusCodes`, so that a message that is
  not the method's (or has a string that is not UTF-8) is INVALID_ARGUMENT rather than grpcio's
  INTERNAL.
- `ConsistentReads` (with replicas sharing a database) first brings the store's cache up to the
  database's current revision, as the HTTP edge does, so that a call on one replica sees every
  write acknowledged on another before it began (a new token, a changed `decrypters`).
- `Authentication` resolves the caller once per call: a Grafana access token in `X-Access-Token`,
  or one of our tokens as `authorization: Bearer`. Rejected credentials count against the same
  per-address failure limiter as HTTP's, and an address over the limit is refused before its
  credential is looked at.

Health and reflection are not protected, as /livez and /readyz are open over HTTP.
"""

from __future__ import annotations

import contextvars
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc

from ..crypto.errors import KmsUnavailable
from ..http.ratelimit import FailureLimiter
from ..machinery.context import Principal
from ..machinery.errors import ApiError
from ..ops.metrics import Metrics
from ..services.access_tokens import AccessClaims, AccessTokenVerifier, InvalidAccessToken
from ..services.tokens import TokenService
from ..store.errors import StoreUnavailable

log = logging.getLogger("apiserver.grpc")

ACCESS_TOKEN = "x-access-token"
AUTHORIZATION = "authorization"
SERVICE_IDENTITY_NAME = "x-grafana-service-identity-name"

Behavior = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]


class Refusal(Exception):
    """A call refused with a status code; the message is safe to show the caller."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Caller:
    """Who is calling: a principal, and the claims of the access token when that is the credential."""

    principal: Principal
    claims: AccessClaims | None = None
    acting_for: str = ""  # X-Grafana-Service-Identity-Name, for the audit only


_CALLER: contextvars.ContextVar[Caller] = contextvars.ContextVar("apiserver.grpc.caller")


def current_caller() -> Caller:
    """The caller of the call being served (set by `Authentication`)."""
    try:
        return _CALLER.get()
    except LookupError:
        raise Refusal(grpc.StatusCode.UNAUTHENTICATED, "no credentials") from None


def metadata_value(context: grpc.aio.ServicerContext, key: str) -> str:
    for name, value in context.invocation_metadata() or ():
        if name == key and isinstance(value, str):
            return value
    return ""


def peer_address(context: grpc.aio.ServicerContext) -> str:
    """The peer's address without the port, as HTTP's `request.remote` gives it (shared limiter keys)."""
    peer = context.peer() or ""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rpartition(":")[0]
    if kind == "ipv6":
        return rest.rpartition(":")[0].strip("[]")
    return peer


class Layer:
    """One step around a protected method: `around` calls `inner` (or refuses the call)."""

    async def around(self, inner: Behavior, request: Any, context: grpc.aio.ServicerContext) -> Any:
        raise NotImplementedError


def _wrap(layer: Layer, inner: Behavior) -> Behavior:
    async def behavior(request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await layer.around(inner, request, context)

    return behavior


def _decoding(inner: Behavior, decode: Callable[[bytes], Any]) -> Behavior:
    async def behavior(raw: bytes, context: grpc.aio.ServicerContext) -> Any:
        try:
            request = decode(raw)
        except Exception:  # protobuf's DecodeError, or a string field that is not UTF-8
            raise Refusal(grpc.StatusCode.INVALID_ARGUMENT, "the request is not a message of this method") from None
        return await inner(request, context)

    return behavior


def protect(
    behavior: Behavior,
    decode: Callable[[bytes], Any],
    encode: Callable[[Any], bytes],
    layers: Sequence[Layer],
    outer: Sequence[Layer] = (),
) -> grpc.RpcMethodHandler:
    """A unary method handler: `outer`, `StatusCodes`, decoding, then `layers` (outermost first), then `behavior`."""
    inner = behavior
    for layer in reversed(layers):
        inner = _wrap(layer, inner)
    handler = _wrap(StatusCodes(), _decoding(inner, decode))
    for layer in reversed(outer):
        handler = _wrap(layer, handler)
    return grpc.unary_unary_rpc_method_handler(handler, request_deserializer=None, response_serializer=encode)


class Metering(Layer):
    """Counts and times each call as `apiserver_request_total{surface="grpc"}`, with its final status code.

    The verb is the method's name (`DecryptSecureValues`), the code the gRPC status name (`OK`,
    `UNAUTHENTICATED`); per-name results inside a decrypt answer are counted by the decrypt service.
    """

    def __init__(self, metrics: Metrics, verb: str, resource: str) -> None:
        self.metrics = metrics
        self.verb = verb
        self.resource = resource

    async def around(self, inner: Behavior, request: Any, context: grpc.aio.ServicerContext) -> Any:
        started = time.perf_counter()
        code = "OK"
        try:
            return await inner(request, context)
        except grpc.aio.AbortError:
            code = _status_name(context.code())
            raise
        except BaseException:
            code = "UNKNOWN"
            raise
        finally:
            self.metrics.record_request(self.verb, self.resource, code, "grpc", time.perf_counter() - started)


def _status_name(code: Any) -> str:
    if isinstance(code, grpc.StatusCode):
        return code.name
    for status in grpc.StatusCode:
        if status.value[0] == code:
            return status.name
    return "UNKNOWN"


class StatusCodes(Layer):
    async def around(self, inner: Behavior, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await inner(request, context)
        except grpc.aio.AbortError:
            raise
        except Refusal as refusal:
            await context.abort(refusal.code, refusal.message)
        except StoreUnavailable:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the database is unavailable; please try again later")
        except KmsUnavailable:
            await context.abort(
                grpc.StatusCode.UNAVAILABLE, "the key management service is unavailable; please try again later"
            )
        except ApiError as error:
            await context.abort(_code_of(error), error.message)
        except Exception as exc:  # a bug of ours: a generic answer, and a trace without messages
            frames = "".join(traceback.format_tb(exc.__traceback__))
            log.error("unhandled %s in gRPC call\n%s", type(exc).__name__, frames)
            await context.abort(grpc.StatusCode.INTERNAL, "an internal error occurred")


def _code_of(error: ApiError) -> grpc.StatusCode:
    return {
        400: grpc.StatusCode.INVALID_ARGUMENT,
        401: grpc.StatusCode.UNAUTHENTICATED,
        403: grpc.StatusCode.PERMISSION_DENIED,
        404: grpc.StatusCode.NOT_FOUND,
        409: grpc.StatusCode.ABORTED,
        413: grpc.StatusCode.RESOURCE_EXHAUSTED,
        422: grpc.StatusCode.INVALID_ARGUMENT,
        429: grpc.StatusCode.RESOURCE_EXHAUSTED,
        503: grpc.StatusCode.UNAVAILABLE,
        507: grpc.StatusCode.RESOURCE_EXHAUSTED,
    }.get(error.code, grpc.StatusCode.INTERNAL)


class ConsistentReads(Layer):
    def __init__(self, sync: Callable[[], Awaitable[None]]) -> None:
        self.sync = sync

    async def around(self, inner: Behavior, request: Any, context: grpc.aio.ServicerContext) -> Any:
        await self.sync()  # StoreUnavailable here is UNAVAILABLE, from StatusCodes
        return await inner(request, context)


class Authentication(Layer):
    def __init__(self, tokens: TokenService, verifier: AccessTokenVerifier, limiter: FailureLimiter) -> None:
        self.tokens = tokens
        self.verifier = verifier
        self.limiter = limiter

    async def around(self, inner: Behavior, request: Any, context: grpc.aio.ServicerContext) -> Any:
        source = peer_address(context)
        wait = self.limiter.retry_after(source)
        if wait is not None:
            raise Refusal(grpc.StatusCode.RESOURCE_EXHAUSTED, f"too many failed authentications; retry in {wait}s")
        caller = self._caller(context)
        if caller is None:
            self.limiter.failed(source)
            raise Refusal(grpc.StatusCode.UNAUTHENTICATED, "invalid credentials")
        reset = _CALLER.set(caller)
        try:
            return await inner(request, context)
        finally:
            _CALLER.reset(reset)

    def _caller(self, context: grpc.aio.ServicerContext) -> Caller | None:
        acting_for = metadata_value(context, SERVICE_IDENTITY_NAME)
        access_token = metadata_value(context, ACCESS_TOKEN).strip()
        if access_token:
            try:
                claims = self.verifier.verify(access_token)
            except InvalidAccessToken as exc:
                log.info("access token refused: %s", exc)
                return None
            identity = claims.service_identities[0] if len(claims.service_identities) == 1 else None
            principal = Principal(subject=claims.subject or "access-token", service_identity=identity)
            return Caller(principal, claims, acting_for)
        scheme, _, value = metadata_value(context, AUTHORIZATION).partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            if not value.strip() and not scheme:
                raise Refusal(grpc.StatusCode.UNAUTHENTICATED, "no credentials: send X-Access-Token or a bearer token")
            return None
        bearer = self.tokens.authenticate(value.strip())
        return Caller(bearer, None, acting_for) if bearer is not None else None
