"""Service layer against moto: a create whose commit fails after AWS took the value leaves nothing for long.

The AWS call happens before the transaction (it is slow); the transaction then fails, here because
the namespace's active keeper changed in between. The intent recorded before the AWS call leads
the cleanup worker to the AWS secret once the grace period has passed, and not before.
"""

from __future__ import annotations

import asyncio

import pytest
from aws_support import aws_keeper, moto, our_secrets
from harness import ADMIN_TOKEN, secure_value

from apiserver.app import SYSTEM, build_components
from apiserver.config import Settings
from apiserver.machinery.context import RequestContext
from apiserver.machinery.errors import ApiError
from apiserver.services.keeper_records import PENDING


def test_a_failed_commit_after_the_aws_create_is_undone_after_the_grace(tmp_path, moto, monkeypatch):
    for key, value in moto.server_env().items():
        monkeypatch.setenv(key, value)  # boto3 reads them as in a server process

    async def run() -> None:
        settings = Settings(data_dir=tmp_path / "data", admin_token=ADMIN_TOKEN, keeper_create_grace_seconds=60)
        components = build_components(settings)
        await components.store.open()
        assert components.external is not None and components.keeper_cleanup is not None
        components.external.server_identity = "test-server"
        cleanup = components.keeper_cleanup
        cleanup.holder = "test-holder"
        try:
            ctx = RequestContext(SYSTEM)
            await components.namespaces.create(ctx, "", {"metadata": {"name": "default"}})
            await components.keepers.create(ctx, "default", aws_keeper())
            await components.keeper_service.activate(ctx, "default", "aws-prod")
            prepared = await components.secure_values.prepare_create(ctx, "default", secure_value("racing"))
            assert len(our_secrets(moto)) == 1  # AWS has it, our store not yet
            await components.keeper_service.activate(ctx, "default", "system")
            with pytest.raises(ApiError) as refused:
                await components.secure_values.commit(ctx, [prepared])
            assert refused.value.code == 409
            assert components.store.get("securevalues", "default", "racing") is None

            assert await cleanup.run_once() == 0  # within the grace period a commit could still claim it
            assert len(our_secrets(moto)) == 1
            [intent] = components.store.iter_current(PENDING, "")
            cleanup.clock = lambda: intent.body["due"] + 1  # the grace period is over
            assert await cleanup.run_once() == 1
            assert our_secrets(moto) == []
            assert list(components.store.iter_current(PENDING, "")) == []
        finally:
            await components.store.close()
            components.external.aws.close()

    asyncio.run(run())
