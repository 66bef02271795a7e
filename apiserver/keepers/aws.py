"""AWS Secrets Manager reached through a role assumed with STS, for the `aws` keeper.

The server's own (base) credentials come from wherever the AWS SDKs look for them: the
environment (`AWS_ACCESS_KEY_ID`, `AWS_PROFILE`, ...), the shared files, an instance or task
role; endpoint overrides (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_STS`,
`AWS_ENDPOINT_URL_SECRETS_MANAGER`) are honoured the same way. A keeper names only the role to
assume and its external ID; its temporary credentials are kept in memory until shortly before
they expire.

boto3 is synchronous: every call runs in a small thread pool of its own, so a slow AWS never
blocks the event loop and never occupies more than `max_workers` threads.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import boto3
import botocore.exceptions
from botocore.config import Config

from .errors import KeeperAccessDenied, KeeperError, KeeperRejected, KeeperSecretMissing, KeeperUnavailable

T = TypeVar("T")

_DENIED = {
    "AccessDenied",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "SignatureDoesNotMatch",
    "RegionDisabledException",
}
_UNAVAILABLE = {
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "LimitExceededException",
    "InternalServiceError",
    "InternalFailure",
    "ServiceUnavailable",
    "RequestTimeout",
}
_MISSING = {"ResourceNotFoundException"}
_CREDENTIALS_MARGIN = 300.0  # assume the role again this long before its credentials expire


@dataclass(frozen=True)
class AwsTarget:
    """Where a keeper's values live: a region and the role to assume there."""

    region: str
    role_arn: str
    external_id: str


@dataclass(frozen=True)
class Written:
    arn: str
    version_id: str


class AwsSecretsManager:
    def __init__(self, session_name: str = "apiserver", *, max_workers: int = 8, timeout: float = 5.0) -> None:
        self.session_name = session_name
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="aws-keeper")
        self._config = Config(
            connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 2, "mode": "standard"}
        )
        self._session: boto3.session.Session | None = None
        self._lock = threading.Lock()  # boto3 sessions are not thread-safe; clients are
        self._clients: dict[AwsTarget, tuple[Any, float]] = {}

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- operations -----------------------------------------------------------------------

    async def check(self, target: AwsTarget) -> None:
        """Assume the role once (a dry run of every later call); raises KeeperError."""
        await self._run("AssumeRole", lambda: self._assume(target))

    async def create(self, target: AwsTarget, name: str, value: bytes, tags: dict[str, str], token: str) -> Written:
        """Create secret `name` holding `value`; `token` (a UUID) becomes its first version's id."""

        def call() -> Written:
            answer = self._client(target).create_secret(
                Name=name,
                ClientRequestToken=token,
                Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
                **_secret_value(value),
            )
            return Written(answer["ARN"], answer["VersionId"])

        return await self._run("CreateSecret", call)

    async def put(self, target: AwsTarget, secret_id: str, value: bytes, token: str) -> Written:
        """Write a new current version of an existing secret."""

        def call() -> Written:
            answer = self._client(target).put_secret_value(
                SecretId=secret_id, ClientRequestToken=token, **_secret_value(value)
            )
            return Written(answer["ARN"], answer["VersionId"])

        return await self._run("PutSecretValue", call)

    async def read(self, target: AwsTarget, secret_id: str, version_id: str | None = None) -> bytes:
        """The value of one version (the current one when `version_id` is None)."""

        def call() -> bytes:
            extra = {"VersionId": version_id} if version_id else {}
            answer = self._client(target).get_secret_value(SecretId=secret_id, **extra)
            if "SecretBinary" in answer:
                return bytes(answer["SecretBinary"])
            return str(answer.get("SecretString", "")).encode()

        return await self._run("GetSecretValue", call)

    async def delete(self, target: AwsTarget, secret_id: str) -> None:
        """Delete a secret at once (no recovery window); one that is already gone counts as deleted."""

        def call() -> None:
            try:
                self._client(target).delete_secret(SecretId=secret_id, ForceDeleteWithoutRecovery=True)
            except botocore.exceptions.ClientError as exc:
                if _code(exc) not in _MISSING:
                    raise

        await self._run("DeleteSecret", call)

    async def exists(self, target: AwsTarget, secret_id: str) -> bool:
        def call() -> bool:
            try:
                self._client(target).describe_secret(SecretId=secret_id)
            except botocore.exceptions.ClientError as exc:
                if _code(exc) in _MISSING:
                    return False
                raise
            return True

        return await self._run("DescribeSecret", call)

    # -- plumbing -------------------------------------------------------------------------

    async def _run(self, operation: str, call: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, call)
        except KeeperError as exc:
            exc.operation = exc.operation or operation
            raise
        except botocore.exceptions.ClientError as exc:
            raise _classify(exc, operation) from None
        except (botocore.exceptions.NoCredentialsError, botocore.exceptions.PartialCredentialsError):
            raise KeeperUnavailable("NoCredentials", operation) from None
        except (botocore.exceptions.BotoCoreError, OSError) as exc:
            # Connection refused or reset, timeouts, DNS: AWS (or its emulator) cannot be reached.
            raise KeeperUnavailable(type(exc).__name__, operation) from None

    def _base(self) -> boto3.session.Session:
        with self._lock:
            if self._session is None:
                self._session = boto3.session.Session()
            return self._session

    def _assume(self, target: AwsTarget) -> dict[str, Any]:
        base = self._base()
        with self._lock:
            sts = base.client("sts", region_name=target.region, config=self._config)
        try:
            answer = sts.assume_role(
                RoleArn=target.role_arn, RoleSessionName=self.session_name, ExternalId=target.external_id
            )
        except botocore.exceptions.ClientError as exc:
            raise _classify(exc, "AssumeRole") from None
        return answer["Credentials"]

    def _client(self, target: AwsTarget) -> Any:
        cached = self._clients.get(target)
        if cached is not None and cached[1] > time.time():
            return cached[0]
        credentials = self._assume(target)
        base = self._base()
        with self._lock:
            client = base.client(
                "secretsmanager",
                region_name=target.region,
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
                config=self._config,
            )
        expires = credentials["Expiration"].timestamp() - _CREDENTIALS_MARGIN
        self._clients[target] = (client, expires)
        return client

    def forget(self, target: AwsTarget) -> None:
        """Drop the cached credentials of a target (after AWS refused them)."""
        self._clients.pop(target, None)


def _secret_value(value: bytes) -> dict[str, Any]:
    """Text as SecretString, so an operator reads it in AWS's console as it was given; else binary."""
    try:
        return {"SecretString": value.decode("utf-8")}
    except UnicodeDecodeError:
        return {"SecretBinary": value}


def _code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "") or "Unknown")


def _classify(exc: botocore.exceptions.ClientError, operation: str) -> KeeperError:
    code = _code(exc)
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    if code in _DENIED or status in (401, 403):
        return KeeperAccessDenied(code, operation)
    if code in _MISSING:
        return KeeperSecretMissing(code, operation)
    if code in _UNAVAILABLE or status >= 500:
        return KeeperUnavailable(code, operation)
    if code == "InvalidRequestException" and operation == "GetSecretValue":
        return KeeperSecretMissing(code, operation)  # "marked for deletion": gone for every reader
    return KeeperRejected(code, operation)
