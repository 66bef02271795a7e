"""The aws keeper when AWS says no, goes away, or the server dies between two steps."""

from __future__ import annotations

import os
import signal

import pytest
from aws_support import (
    EXTERNAL_ID,
    ROLE_ARN,
    activate_aws_keeper,
    aws_keeper,
    moto,
    our_secrets,
    wait_for,
)
from harness import Server, free_port, secure_value
from identities_support import create_token
from pg import postgres  # noqa: F401  (session fixture)
from test_postgres_replicas import write_kek_file

VALUE = "aws-failure-plaintext-77d2"
NO_SECRETS_ROLE = ROLE_ARN.replace("apiserver-keeper", "no-secrets")


def state(server) -> list[tuple[str, str]]:
    items = server.session.get(server.sv_url()).json()["items"]
    return [(i["metadata"]["name"], i["metadata"]["resourceVersion"]) for i in items]


def keeper_health(server, name: str = "aws-prod") -> str | None:
    return server.session.get(server.keeper_url(name=name)).json()["status"].get("health")


def test_a_wrong_external_id_refuses_the_activation_with_awss_code(server_factory, moto):
    server = server_factory(env=moto.server_env())
    created = server.session.post(server.keeper_url(), json=aws_keeper("wrong-id", external_id="not-the-one"))
    assert created.status_code == 201
    refused = server.session.post(f"{server.keeper_url(name='wrong-id')}/activate")
    assert refused.status_code == 403, refused.text
    status = refused.json()
    assert (status["kind"], status["reason"]) == ("Status", "Forbidden")
    assert "AssumeRole failed with AccessDenied" in status["message"]
    assert moto.account.server_key not in refused.text and moto.account.server_secret not in refused.text
    keeper = server.session.get(server.keeper_url(name="wrong-id")).json()
    assert keeper["status"] == {"active": False}
    # Nothing changed: new values still go to the system keeper.
    made = server.session.post(server.sv_url(), json=secure_value("still-system", value=VALUE))
    assert made.json()["status"]["keeper"] == "system"
    assert our_secrets(moto) == []


def test_a_role_without_permissions_is_403_and_nothing_is_written(server_factory, moto):
    server = server_factory(env=moto.server_env())
    activated = activate_aws_keeper(server, name="powerless", role=NO_SECRETS_ROLE)  # assuming it works
    assert activated["status"]["health"] == "Healthy"
    before = state(server)
    refused = server.session.post(server.sv_url(), json=secure_value("denied", value=VALUE))
    assert refused.status_code == 403, refused.text
    status = refused.json()
    assert status["reason"] == "Forbidden"
    assert "CreateSecret failed with " in status["message"]  # AWS's code (moto's JSON errors give the status)
    assert state(server) == before and our_secrets(moto) == []


def test_the_emulator_stopped_mid_run_is_503_then_everything_recovers(server_factory, moto):
    server = server_factory(
        env=moto.server_env(
            APISERVER_AWS_TIMEOUT_SECONDS="1",
            APISERVER_KEEPER_CLEANUP_SECONDS="0.3",
            APISERVER_KEEPER_CREATE_GRACE_SECONDS="5",
            APISERVER_KEEPER_HEALTH_SECONDS="0.5",
        )
    )
    activate_aws_keeper(server)
    assert server.session.post(server.sv_url(), json=secure_value("kept", value=VALUE, decrypters=["k6"])).ok
    assert server.session.post(server.sv_url(), json=secure_value("doomed", value=VALUE)).ok
    token, _ = create_token(server, serviceIdentity="k6")
    decrypt_url = f"{server.sv_url(name='kept')}/decrypt"

    os.killpg(moto.process.pid, signal.SIGSTOP)  # AWS stops answering: connections hang until timeouts
    try:
        before = state(server)
        refused = server.session.post(server.sv_url(), json=secure_value("during", value=VALUE))
        assert refused.status_code == 503, refused.text
        assert refused.headers["Retry-After"] == "5"
        assert refused.json()["reason"] == "ServiceUnavailable"
        assert state(server) == before
        update = server.session.put(server.sv_url(name="kept"), json=secure_value("kept", value="new-value"))
        assert update.status_code == 503 and state(server) == before
        unavailable = server.session.post(decrypt_url, headers={"Authorization": f"Bearer {token}"})
        assert unavailable.status_code == 503 and "Retry-After" in unavailable.headers
        # A delete needs no AWS call: it is immediate; the AWS secret waits for the worker.
        assert server.session.delete(server.sv_url(name="doomed")).status_code == 200
        wait_for(lambda: "failed (DeleteSecret: " in server.log(), timeout=30)  # the worker retries, with backoff
        wait_for(lambda: keeper_health(server) not in ("Healthy", None), timeout=30)  # kubectl get keepers shows it
    finally:
        os.killpg(moto.process.pid, signal.SIGCONT)

    # The emulator then answers what it had received: "during" was created in AWS after all, but no
    # secure value claims it, so the worker deletes it once the create's grace period is over.
    wait_for(lambda: [s["Name"].split("/")[-2] for s in our_secrets(moto)] == ["kept"], timeout=60)
    wait_for(lambda: keeper_health(server) == "Healthy", timeout=30)
    made = server.session.post(server.sv_url(), json=secure_value("after", value=VALUE))
    assert made.status_code == 201, made.text
    answer = server.session.post(decrypt_url, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and answer.json() == {"value": VALUE}


def test_the_standard_per_service_endpoint_variables_are_honoured(server_factory, moto):
    nowhere = f"http://127.0.0.1:{free_port()}"
    env = moto.server_env(
        AWS_ENDPOINT_URL=nowhere, AWS_ENDPOINT_URL_STS=moto.url, AWS_ENDPOINT_URL_SECRETS_MANAGER=nowhere
    )
    server = server_factory(env=env)
    activate_aws_keeper(server)  # STS reached through its own variable
    refused = server.session.post(server.sv_url(), json=secure_value("unreachable", value=VALUE))
    assert (
        refused.status_code == 503 and "CreateSecret failed with EndpointConnectionError" in refused.json()["message"]
    )
    server.stop()
    server.env["AWS_ENDPOINT_URL_SECRETS_MANAGER"] = moto.url
    server.start()
    assert server.session.post(server.sv_url(), json=secure_value("reached", value=VALUE)).status_code == 201
    assert len(our_secrets(moto)) == 1


def test_a_crash_between_the_delete_and_the_aws_delete_leaves_no_orphan(tmp_path, moto):
    server = Server(tmp_path / "data", env=moto.server_env(APISERVER_KEEPER_CLEANUP_SECONDS="3600"))
    server.start()
    try:
        activate_aws_keeper(server)
        for name in ("a", "b", "c"):
            assert server.session.post(server.sv_url(), json=secure_value(name, value=VALUE)).ok
        for name in ("a", "b"):
            assert server.session.delete(server.sv_url(name=name)).status_code == 200
        os.killpg(server.process.pid, signal.SIGKILL)  # before the worker's next round
        server.process.wait(10)
        server.process = None
        assert len(our_secrets(moto)) == 3
        server.env["APISERVER_KEEPER_CLEANUP_SECONDS"] = "0.3"
        server.start()
        wait_for(lambda: [s["Name"].split("/")[-2] for s in our_secrets(moto)] == ["c"])
        assert [i["metadata"]["name"] for i in server.session.get(server.sv_url()).json()["items"]] == ["c"]
    finally:
        server.stop()


def test_two_replicas_on_postgres_share_the_cleanup_without_racing(tmp_path, moto, postgres):
    url = postgres.fresh_url("aws")
    kek = write_kek_file(tmp_path / "kek")
    env = moto.server_env(APISERVER_KEEPER_CLEANUP_SECONDS="0.2")
    replicas = [
        Server(tmp_path / f"replica{i}", ["--database-url", url, "--kek-file", str(kek)], env=env).start()
        for i in range(2)
    ]
    try:
        a, b = replicas
        activate_aws_keeper(a)
        names = [f"v{i}" for i in range(24)]
        for i, name in enumerate(names):
            writer = replicas[i % 2]
            created = writer.session.post(writer.sv_url(), json=secure_value(name, value=VALUE, decrypters=["k6"]))
            assert created.status_code == 201, created.text
        token, _ = create_token(b, serviceIdentity="k6")
        answer = b.session.post(f"{b.sv_url(name='v0')}/decrypt", headers={"Authorization": f"Bearer {token}"})
        assert answer.json() == {"value": VALUE}  # written through a, read through b
        arns = {s["ARN"] for s in our_secrets(moto)}
        assert len(arns) == 24
        for i, name in enumerate(names):
            assert replicas[(i + 1) % 2].session.delete(replicas[(i + 1) % 2].sv_url(name=name)).status_code == 200
        wait_for(lambda: our_secrets(moto) == [], timeout=60)

        def deleted_by_each() -> list[list[str]] | None:
            logs = [r.log().splitlines() for r in replicas]
            found = [[line.split()[-7] for line in log if "deleted AWS secret" in line] for log in logs]
            return found if len(found[0]) + len(found[1]) >= len(arns) else None

        # A replica logs a deletion once it has committed it, a moment after AWS answered.
        deleted = wait_for(deleted_by_each)
        # Each secret was deleted by exactly one replica: the leases kept them from doing it twice.
        assert sorted(deleted[0] + deleted[1]) == sorted(arns)
        assert not set(deleted[0]) & set(deleted[1])
        assert deleted[0] and deleted[1]  # and both took part
    finally:
        for server in replicas:
            server.stop()


@pytest.mark.parametrize("provider", ["gcp"])
def test_activating_a_keeper_that_cannot_store_values_warns(server_factory, moto, provider):
    server = server_factory(env=moto.server_env())
    body = {
        "apiVersion": "secret.grafana.app/v1beta1",
        "kind": "Keeper",
        "metadata": {"name": "gcp-1"},
        "spec": {"description": "d", "gcp": {"projectID": "p", "credentialsFile": "/etc/gcp.json"}},
    }
    assert server.session.post(server.keeper_url(), json=body).status_code == 201
    activated = server.session.post(f"{server.keeper_url(name='gcp-1')}/activate")
    assert activated.status_code == 200
    assert "cannot store values yet" in activated.headers.get("Warning", "")
    table = server.session.get(
        server.keeper_url(), headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
    ).json()
    columns = [c["name"] for c in table["columnDefinitions"]]
    rows = {r["cells"][0]: dict(zip(columns, r["cells"], strict=True)) for r in table["rows"]}
    assert rows["gcp-1"]["Health"] == "CannotStoreValues"
    assert EXTERNAL_ID  # the shared constants stay importable for the other aws tests
