"""Values kept by an external keeper (AWS Secrets Manager): written, read and let go.

The plaintext goes to AWS and nowhere else: our store keeps only the secret's ARN and the AWS
version id the secure value points at (see `keeper_records`). Every AWS failure becomes an
`ApiError` here, before anything is committed, so a failed AWS write leaves no secure value.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from ..crypto.errors import DecryptionError
from ..keepers.aws import AwsSecretsManager, AwsTarget
from ..keepers.errors import KeeperAccessDenied, KeeperError, KeeperRejected, KeeperSecretMissing, KeeperUnavailable
from ..machinery.errors import ApiError, bad_request, conflict, forbidden, service_unavailable
from ..resources import GROUP
from ..resources.keeper import KEEPERS, keeper_type
from ..store.errors import ObjectExists
from ..store.store import Store
from ..store.txn import Txn
from .keeper_records import OWNED, PENDING, pending_body, pending_name, target_body
from .secret_bytes import SecretBytes

log = logging.getLogger("apiserver.keepers")

RETRY_AFTER_SECONDS = 5


class ExternalValues:
    def __init__(
        self,
        store: Store,
        aws: AwsSecretsManager,
        *,
        create_grace: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.aws = aws
        self.server_identity = ""  # set at start, from the store: every replica of one store shares it
        self.create_grace = create_grace  # how long a create may take between AWS and our commit
        self._clock = clock

    # -- the keeper's configuration ---------------------------------------------------------

    def target(self, namespace: str, keeper: str) -> AwsTarget:
        stored = self.store.get(KEEPERS.resource, namespace, keeper)
        if stored is None:
            raise DecryptionError()  # a keeper cannot be deleted while values use it: only a race gets here
        return target_from_spec(stored.body)

    async def check(self, keeper: dict[str, Any]) -> None:
        """A dry AssumeRole with the keeper's role and external ID; raises an ApiError when refused."""
        try:
            await self.aws.check(target_from_spec(keeper))
        except KeeperError as exc:
            raise api_error(exc, keeper["metadata"]["name"]) from None

    # -- writes -----------------------------------------------------------------------------

    async def create(self, obj: dict[str, Any], value: SecretBytes) -> Callable[[Txn], None]:
        """Put a new value into AWS; returns the transaction step that records it (and sets externalID)."""
        meta, status = obj["metadata"], obj["status"]
        namespace, name, uid = meta["namespace"], meta["name"], meta["uid"]
        target = self.target(namespace, status["keeper"])
        server = self.server_identity
        secret_name = aws_secret_name(server, namespace, name, uid)
        key = pending_name(secret_name)
        intent = pending_body(secret_name, target, namespace, name, "create", self._clock() + self.create_grace)
        try:
            await self.store.commit(lambda txn: txn.create(PENDING, "", key, intent))
        except ObjectExists:
            pass  # a retried seal of the same value: the intent is already there
        tags = {"apiserver/namespace": namespace, "apiserver/name": name, "apiserver/server": server}
        written = await self._call(self.aws.create(target, secret_name, value.reveal(), tags, _token()), name)
        status["externalID"] = written.arn
        record = {
            "metadata": {"name": uid},
            "namespace": namespace,
            "name": name,
            "secretName": secret_name,
            "arn": written.arn,
            "version": status["version"],
            "versionId": written.version_id,
            "target": target_body(target),
        }

        def claim(txn: Txn) -> None:
            pending = txn.get(PENDING, "", key)
            if pending is None or pending.body.get("leaseHolder"):
                # The cleanup worker gave up waiting for this commit and is deleting the AWS secret.
                raise conflict("securevalues", name, GROUP, "storing the value took too long; please try again")
            txn.delete(PENDING, "", key, expected_revision=pending.revision)
            txn.create(OWNED, "", uid, record)

        return claim

    async def update(self, new: dict[str, Any], value: SecretBytes | None) -> Callable[[Txn], None] | None:
        """A new AWS version for a new value, or the same version for a kept one, under the new version number."""
        meta = new["metadata"]
        owned = self.store.get(OWNED, "", meta["uid"])
        if owned is None:
            return None  # a `ref`: nothing of ours to write
        record = owned.body
        if value is not None:
            target = _region_of(record["arn"], self.target(meta["namespace"], new["status"]["keeper"]))
            written = await self._call(self.aws.put(target, record["arn"], value.reveal(), _token()), meta["name"])
            record["versionId"] = written.version_id
        record["version"] = new["status"]["version"]
        uid = meta["uid"]

        def point(txn: Txn) -> None:
            txn.update(OWNED, "", uid, record, expected_revision=None)

        return point

    # -- reads ------------------------------------------------------------------------------

    async def read(self, obj: dict[str, Any]) -> SecretBytes:
        """The value the secure value points at; DecryptionError when AWS has no such value."""
        meta, spec, status = obj["metadata"], obj.get("spec", {}), obj.get("status", {})
        try:
            target = self.target(meta["namespace"], status.get("keeper", ""))
        except ApiError:  # a keeper type that keeps nothing yet: no value to read, whatever the reason
            raise DecryptionError() from None
        if spec.get("ref"):
            secret_id, version_id = str(spec["ref"]), None
        else:
            owned = self.store.get(OWNED, "", meta.get("uid", ""))
            if owned is None or owned.body.get("version") != status.get("version"):
                raise DecryptionError()  # changed meanwhile: the decrypt path looks again
            secret_id, version_id = owned.body["arn"], owned.body["versionId"]
        try:
            return SecretBytes(await self.aws.read(_region_of(secret_id, target), secret_id, version_id))
        except (KeeperSecretMissing, KeeperAccessDenied, KeeperRejected) as exc:
            log.error("reading securevalues %s/%s from AWS failed: %s", meta["namespace"], meta["name"], exc)
            raise DecryptionError() from None
        except KeeperUnavailable as exc:
            raise api_error(exc, meta["name"]) from None

    async def _call(self, call: Any, name: str) -> Any:
        try:
            return await call
        except KeeperError as exc:
            raise api_error(exc, name) from None


def target_from_spec(keeper: dict[str, Any]) -> AwsTarget:
    if keeper_type(keeper) != "aws":
        kind = keeper_type(keeper)
        name = keeper["metadata"]["name"]
        raise forbidden(f"keepers of type {kind!r} cannot store values yet", KEEPERS.resource, name, GROUP)
    aws = keeper["spec"]["aws"]
    role = aws.get("assumeRole") or {}
    return AwsTarget(aws.get("region", ""), role.get("assumeRoleArn", ""), role.get("externalID", ""))


def aws_secret_name(server: str, namespace: str, name: str, uid: str) -> str:
    """Deterministic and collision-free: a value's uid is unique; namespace and name make it findable."""
    return f"apiserver/{server}/{namespace}/{name}/{uid}"


def api_error(exc: KeeperError, name: str) -> ApiError:
    """An AWS failure as a Status: the operation and AWS's error code, never AWS's message."""
    said = f"AWS Secrets Manager: {exc.operation} failed with {exc.code}"
    if isinstance(exc, KeeperAccessDenied):
        return forbidden(f"{said}; check the keeper's role, its trust policy and external ID", "securevalues", name)
    if isinstance(exc, KeeperUnavailable):
        return service_unavailable(f"{said}; please try again later", retry_after=RETRY_AFTER_SECONDS)
    if isinstance(exc, KeeperSecretMissing):
        return bad_request(f"{said}: the secret does not exist")
    return bad_request(said)


def _region_of(secret_id: str, target: AwsTarget) -> AwsTarget:
    """A secret named by ARN lives in the ARN's region, whatever the keeper's region is now."""
    parts = secret_id.split(":")
    if secret_id.startswith("arn:") and len(parts) > 3 and parts[3] and parts[3] != target.region:
        return AwsTarget(parts[3], target.role_arn, target.external_id)
    return target


def _token() -> str:
    """An AWS ClientRequestToken (it becomes the version id): random, so concurrent writers never clash."""
    return str(uuid.uuid4())
