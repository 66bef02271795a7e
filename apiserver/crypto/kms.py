"""A Kubernetes KMS v2 plugin as the KEK provider, over the plugin's Unix socket (gRPC).

As kube-apiserver does: a data key is sent to the plugin's `Encrypt`; the ciphertext, the `key_id`
and the `annotations` it returns are stored together and handed back to `Decrypt`. `Status` is
polled: its `key_id` is the plugin's current key, and when it changes every data key wrapped under
another one is re-wrapped (the `on_key_change` callback). While the plugin is unreachable or
unhealthy, data keys unwrapped before keep serving for `grace` seconds; after that they are
dropped and every use of a data key waits for the plugin again. A new data key always needs the
plugin: until it answers, `wrap` raises `KmsUnavailable`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc

from ..grpc.generated.kmsv2 import api_pb2, api_pb2_grpc
from ..ops.tasks import stop_task
from .errors import DecryptionError, KmsUnavailable
from .providers import Wrapping

log = logging.getLogger(__name__)

KMS = "kms"
VERSIONS = ("v2", "v2beta1")  # what Status may report (kube-apiserver accepts the same)
MAX_KEY_ID = 1024  # bytes, as kube-apiserver checks
MAX_CIPHERTEXT = 1024  # bytes: a wrapped 32-byte data key is far smaller
MAX_ANNOTATIONS = 32 * 1024  # keys and values together
_DNS_NAME = re.compile(r"(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 1000),
]
# Codes that say "not now" rather than "not this ciphertext".
_TRANSIENT = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED,
}


def socket_target(path: str | Path) -> str:
    """The gRPC target of a socket given as a path or as kube-apiserver's ``unix:///path``."""
    text = str(path)
    for prefix in ("unix://", "unix:"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    return f"unix:{Path(text).absolute()}"


class KmsPlugin:
    """The `KekProvider` of a KMS v2 plugin; `start` begins polling its `Status`."""

    def __init__(
        self,
        socket: str | Path,
        *,
        timeout: float = 3.0,
        status_interval: float = 10.0,
        grace: float = 180.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.target = socket_target(socket)
        self._timeout = timeout
        self._interval = status_interval
        self._grace = grace
        self._clock = clock
        self._channel: grpc.aio.Channel | None = None
        self._stub: api_pb2_grpc.KeyManagementServiceStub | None = None
        self._task: asyncio.Task | None = None
        self.key_id = ""  # the current key, from the last good Status
        self.version = ""
        self._problem: str | None = "the KMS plugin has not answered yet"
        self._down_since: float | None = None  # None while the plugin answers
        self._rewrapped_for = ""  # the key id every data key was last re-wrapped under
        # Re-wraps every data key not under the current key; set by whoever owns the data keys.
        self.on_key_change: Callable[[], Awaitable[int]] | None = None
        # Each call's method, gRPC status code (kube-apiserver's spelling, "OK", "DeadlineExceeded")
        # and duration in seconds, for the latency metric.
        self.record: Callable[[str, str, float], None] | None = None

    def __repr__(self) -> str:
        return f"KmsPlugin(target={self.target!r}, key_id={self.key_id!r})"

    # -- the KekProvider protocol ---------------------------------------------------------

    @property
    def active(self) -> tuple[str, str]:
        return (KMS, self.key_id)

    def ids(self) -> list[tuple[str, str]]:
        return [(KMS, self.key_id)] if self.key_id else []

    def knows(self, provider: str, kek_id: str) -> bool:
        return provider == KMS  # which key ids it opens only the plugin knows

    def cache_valid(self) -> bool:
        return self._down_since is None or self._clock() - self._down_since <= self._grace

    async def wrap(self, plaintext: bytes, aad: bytes) -> Wrapping:
        """Encrypt a data key with the plugin. `aad` is not sent: the KMS v2 API has none, and the
        values' own associated data binds them to their namespace already."""
        request = api_pb2.EncryptRequest(plaintext=plaintext, uid=str(uuid.uuid4()))
        try:
            response = await self._call("Encrypt", request)
        except grpc.aio.AioRpcError as exc:
            raise self._unreachable("Encrypt", exc) from None
        problem = _encrypt_problem(response)
        if problem is not None:
            log.error("the KMS plugin at %s answered Encrypt %s", self.target, problem)
            raise KmsUnavailable(f"the KMS plugin answered Encrypt {problem}")
        self._answered()
        return Wrapping(KMS, response.key_id, response.ciphertext, dict(response.annotations))

    async def unwrap(self, wrapping: Wrapping, aad: bytes) -> bytes:
        if wrapping.provider != KMS:
            raise DecryptionError()
        request = api_pb2.DecryptRequest(
            ciphertext=wrapping.wrapped,
            uid=str(uuid.uuid4()),
            key_id=wrapping.kek_id,
            annotations=dict(wrapping.annotations),
        )
        try:
            response = await self._call("Decrypt", request)
        except grpc.aio.AioRpcError as exc:
            if exc.code() in _TRANSIENT:
                raise self._unreachable("Decrypt", exc) from None
            # The plugin answered, and refused: this key id or ciphertext is not one it opens.
            self._answered()
            log.warning("the KMS plugin refused to decrypt a data key of key %s: %s", wrapping.kek_id, exc.code().name)
            raise DecryptionError() from None
        self._answered()
        return bytes(response.plaintext)

    def status(self) -> dict[str, Any]:
        return {
            "kms": {
                "socket": self.target,
                "healthy": self._problem is None,
                "keyId": self.key_id,
                "version": self.version,
                "problem": self._problem or "",
            }
        }

    # -- health and polling ---------------------------------------------------------------

    async def health(self) -> str | None:
        """The `kms` readiness check."""
        return self.problem()

    def problem(self) -> str | None:
        """Why the plugin is not healthy, with what that means for the data keys; None when it is."""
        if self._problem is None:
            return None
        if self._down_since is None:
            return self._problem
        left = self._grace - (self._clock() - self._down_since)
        if left >= 0:
            return f"{self._problem}; cached data keys keep serving for {int(left)} s more, new data keys wait"
        return f"{self._problem}; cached data keys expired, every value waits for the plugin"

    async def check(self) -> None:
        """One `Status` call: health, version and the current key id; re-wraps after a key change."""
        try:
            response = await self._call("Status", api_pb2.StatusRequest())
        except grpc.aio.AioRpcError as exc:
            self._unreachable("Status", exc)
            return
        if response.version not in VERSIONS:
            self._failing(f"the KMS plugin speaks version {_quoted(response.version)}, not v2")
            return
        if response.healthz != "ok":
            self._failing(f"the KMS plugin is not healthy: {_quoted(response.healthz)}")
            return
        if not response.key_id or len(response.key_id.encode()) > MAX_KEY_ID:
            self._failing("the KMS plugin reports no valid key_id")
            return
        self.version = response.version
        if response.key_id != self.key_id:
            if self.key_id:
                log.info("the KMS plugin's key changed from %s to %s", self.key_id, response.key_id)
            self.key_id = response.key_id
        self._answered()
        await self._rewrap_if_needed()

    async def start(self) -> None:
        await self.check()
        if self._interval > 0:
            self._task = asyncio.get_running_loop().create_task(self._poll(), name="kms-status")

    async def stop(self) -> None:
        if self._task is not None:
            await stop_task(self._task)
            self._task = None
        if self._channel is not None:
            await self._channel.close()
            self._channel = self._stub = None

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.check()

    async def _rewrap_if_needed(self) -> None:
        if self.on_key_change is None or self._rewrapped_for == self.key_id:
            return
        key_id = self.key_id
        try:
            count = await self.on_key_change()
        except KmsUnavailable:
            return  # logged where it happened; the next poll tries again
        except Exception as exc:  # the store may be away: the next poll tries again
            log.error("re-wrapping the data keys under KMS key %s failed: %s", key_id, type(exc).__name__)
            return
        self._rewrapped_for = key_id
        if count:
            log.info("re-wrapped %d data keys under KMS key %s", count, key_id)

    async def _call(self, method: str, request: Any) -> Any:
        """One call to the plugin within the deadline, timed; `grpc.aio.AioRpcError` on failure."""
        if self._stub is None:
            # A plugin that restarts is back within a second: gRPC's default reconnect backoff grows to minutes.
            self._channel = grpc.aio.insecure_channel(self.target, options=_CHANNEL_OPTIONS)
            self._stub = api_pb2_grpc.KeyManagementServiceStub(self._channel)
        started = time.perf_counter()
        code = grpc.StatusCode.OK
        try:
            return await getattr(self._stub, method)(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
            raise
        finally:
            if self.record is not None:
                self.record(method, _code_name(code), time.perf_counter() - started)

    def _answered(self) -> None:
        if self._problem is not None and self.key_id:
            if self._down_since is not None:
                log.info("the KMS plugin at %s answers again", self.target)
            self._problem = None
            self._down_since = None

    def _failing(self, problem: str) -> None:
        if self._problem != problem:
            log.warning("%s (socket %s)", problem, self.target)
        self._problem = problem
        if self._down_since is None:
            self._down_since = self._clock()

    def _unreachable(self, call: str, exc: grpc.aio.AioRpcError) -> KmsUnavailable:
        problem = f"the KMS plugin did not answer {call}: {_code_name(exc.code())}"
        self._failing(problem)
        return KmsUnavailable(problem)


def _code_name(code: grpc.StatusCode) -> str:
    """A status code as Go's gRPC spells it (kube-apiserver's label values): OK, DeadlineExceeded."""
    return "OK" if code == grpc.StatusCode.OK else "".join(part.capitalize() for part in code.name.split("_"))


def _quoted(text: str) -> str:
    """Plugin-supplied text for a message: printable, bounded."""
    cleaned = "".join(c if c.isprintable() else "?" for c in text[:200])
    return repr(cleaned)


def _encrypt_problem(response: api_pb2.EncryptResponse) -> str | None:
    """What is wrong with an Encrypt response, by the rules kube-apiserver applies; None if nothing."""
    if not response.ciphertext:
        return "with an empty ciphertext"
    if len(response.ciphertext) > MAX_CIPHERTEXT:
        return f"with a ciphertext over {MAX_CIPHERTEXT} bytes"
    if not response.key_id:
        return "without a key_id"
    if len(response.key_id.encode()) > MAX_KEY_ID:
        return f"with a key_id over {MAX_KEY_ID} bytes"
    size = 0
    for key, value in response.annotations.items():
        if not _DNS_NAME.fullmatch(key):
            return f"with the annotation key {_quoted(key)}, which is not a fully qualified domain name"
        size += len(key.encode()) + len(value)
    if size > MAX_ANNOTATIONS:
        return f"with annotations over {MAX_ANNOTATIONS} bytes"
    return None
