"""The gRPC decrypt surface: Grafana's `SecureValueDecrypter`, under `decryptv1beta1` and `decryptv1`.

The whole call is refused only for what concerns the caller or the request as a whole: an empty
namespace (INVALID_ARGUMENT), a token for another namespace (PERMISSION_DENIED). Everything about
a name is a per-name result of the decrypt service (`not found`, `not authorized`, `decryption
failed`), so that a caller cannot tell a missing name from a forbidden one.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import grpc

from ..machinery.context import RequestContext
from ..services.decrypt import MAX_NAMES, DecryptService, acting_for
from ..services.permissions import Grant
from ..services.tokens import TokenService
from .generated.decryptv1 import decrypt_pb2 as v1
from .generated.decryptv1 import decrypt_pb2_grpc as v1_grpc
from .generated.decryptv1beta1 import decrypt_pb2 as v1beta1
from .generated.decryptv1beta1 import decrypt_pb2_grpc as v1beta1_grpc
from .layers import Caller, Layer, Refusal, current_caller, protect

# (messages, stubs) per package; both serve the same service.
PACKAGES: tuple[tuple[ModuleType, ModuleType], ...] = ((v1beta1, v1beta1_grpc), (v1, v1_grpc))
SERVICE_NAMES = tuple(f"{m.DESCRIPTOR.package}.SecureValueDecrypter" for m, _ in PACKAGES)
MAX_NAMESPACE = 253


class DecryptServicer:
    """One package's servicer; `messages` is that package's generated module."""

    def __init__(self, service: DecryptService, tokens: TokenService, messages: ModuleType) -> None:
        self.service = service
        self.tokens = tokens
        self.messages = messages

    async def DecryptSecureValues(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        caller = current_caller()
        namespace = request.namespace
        if not namespace or len(namespace) > MAX_NAMESPACE or not namespace.isprintable():
            raise Refusal(grpc.StatusCode.INVALID_ARGUMENT, "a namespace is required")
        names = list(request.names)
        if len(names) > MAX_NAMES:
            raise Refusal(grpc.StatusCode.INVALID_ARGUMENT, f"at most {MAX_NAMES} names per request")
        grant = self._grant(caller, namespace)
        ctx = RequestContext(caller.principal, acting_for=acting_for(caller.acting_for))
        results = await self.service.decrypt(ctx, namespace, names, grant)
        Result = self.messages.Result
        values = {
            name: Result(value=r.value.reveal().decode("utf-8", errors="replace"))
            if r.value is not None
            else Result(error_message=r.error)
            for name, r in results.items()
        }
        return self.messages.SecureValueDecryptResponseCollection(decrypted_values=values)

    def _grant(self, caller: Caller, namespace: str) -> Grant | None:
        """The access token's rights (None for a stored token: the service looks them up per name)."""
        if caller.claims is not None:
            if not caller.claims.namespace_matches(namespace):
                raise Refusal(
                    grpc.StatusCode.PERMISSION_DENIED, "namespace in token does not match the passed namespace"
                )
            return caller.claims.grant()
        grant = self.tokens.grant_for(caller.principal)
        if grant is None:
            raise Refusal(grpc.StatusCode.UNAUTHENTICATED, "invalid credentials")
        if not grant.covers(namespace):
            raise Refusal(grpc.StatusCode.PERMISSION_DENIED, "the token does not apply to the passed namespace")
        return None


def add_services(
    server: grpc.aio.Server,
    service: DecryptService,
    tokens: TokenService,
    layers: list[Layer],
    outer: Callable[[str], list[Layer]] = lambda method: [],
) -> None:
    """Both packages' `DecryptSecureValues`, each composed once with the edge's `layers` (and `outer(method)`)."""
    for messages, _ in PACKAGES:
        servicer = DecryptServicer(service, tokens, messages)
        handlers = {
            "DecryptSecureValues": protect(
                servicer.DecryptSecureValues,
                messages.SecureValueDecryptRequest.FromString,
                messages.SecureValueDecryptResponseCollection.SerializeToString,
                layers,
                outer("DecryptSecureValues"),
            )
        }
        name = f"{messages.DESCRIPTOR.package}.SecureValueDecrypter"
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(name, handlers),))
        server.add_registered_method_handlers(name, handlers)  # grpcio's fast path for known methods
