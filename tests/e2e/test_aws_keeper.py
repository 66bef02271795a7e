"""The aws keeper against moto's emulator: values live in AWS Secrets Manager, never in our store."""

from __future__ import annotations

import pytest
from aws_support import (
    EXTERNAL_ID,
    REGION,
    ROLE_ARN,
    activate_aws_keeper,
    moto,
    our_secrets,
    wait_for,
)
from harness import files_containing, secure_value
from identities_support import create_token

VALUE = "aws-kept-plaintext-5e1d"
NEW_VALUE = "aws-kept-rotated-90c4"


@pytest.fixture
def aws_server(server_factory, moto):
    server = server_factory(env=moto.server_env(APISERVER_KEEPER_CLEANUP_SECONDS="0.3"))
    activate_aws_keeper(server)
    return server


def decrypt(server, token: str, name: str) -> dict:
    response = server.session.post(f"{server.sv_url(name=name)}/decrypt", headers={"Authorization": f"Bearer {token}"})
    return {**response.json(), "http": response.status_code}


def test_create_puts_the_value_in_aws_under_the_assumed_role(aws_server, moto):
    server = aws_server
    created = server.session.post(server.sv_url(), json=secure_value("db", value=VALUE, decrypters=["k6"]))
    assert created.status_code == 201, created.text
    status = created.json()["status"]
    assert status["keeper"] == "aws-prod" and status["version"] == 1
    assert status["externalID"].startswith(f"arn:aws:secretsmanager:{REGION}:")

    [secret] = our_secrets(moto)
    assert secret["ARN"] == status["externalID"]
    uid = created.json()["metadata"]["uid"]
    assert secret["Name"].endswith(f"/default/db/{uid}")
    tags = {t["Key"]: t["Value"] for t in secret["Tags"]}
    assert tags["apiserver/namespace"] == "default" and tags["apiserver/name"] == "db"
    assert tags["apiserver/server"] and tags["apiserver/server"] in secret["Name"]
    stored = moto.client("secretsmanager").get_secret_value(SecretId=secret["ARN"])
    assert stored["SecretString"] == VALUE

    # The role was assumed with the keeper's external ID (moto also enforced the trust policy's condition).
    roles = moto.assumed_roles()
    assert roles and {(r["role_arn"], r["external_id"]) for r in roles} == {(ROLE_ARN, EXTERNAL_ID)}
    assert all(r["session_name"] == f"apiserver-{tags['apiserver/server']}" for r in roles)

    token, _ = create_token(server, serviceIdentity="k6")
    assert decrypt(server, token, "db") == {"http": 200, "value": VALUE}


def test_update_writes_a_new_version_and_decrypt_reads_the_one_pointed_at(aws_server, moto):
    server = aws_server
    body = secure_value("rotating", value=VALUE, decrypters=["k6"])
    arn = server.session.post(server.sv_url(), json=body).json()["status"]["externalID"]
    token, _ = create_token(server, serviceIdentity="k6")

    updated = server.session.put(
        server.sv_url(name="rotating"), json=secure_value("rotating", value=NEW_VALUE, decrypters=["k6"])
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["status"]["version"] == 2 and updated.json()["status"]["externalID"] == arn
    versions = moto.client("secretsmanager").list_secret_version_ids(SecretId=arn)["Versions"]
    assert len(versions) == 2
    assert decrypt(server, token, "rotating")["value"] == NEW_VALUE

    # The same value again changes nothing (no new AWS version, no new version number).
    same = server.session.put(
        server.sv_url(name="rotating"), json=secure_value("rotating", value=NEW_VALUE, decrypters=["k6"])
    )
    assert same.json()["status"]["version"] == 2
    assert len(moto.client("secretsmanager").list_secret_version_ids(SecretId=arn)["Versions"]) == 2

    # A change of the description keeps the value: version 3 points at the same AWS version.
    described = server.session.put(
        server.sv_url(name="rotating"),
        json=secure_value("rotating", value=None, description="new words", decrypters=["k6"]),
    )
    assert described.status_code == 200 and described.json()["status"]["version"] == 3
    assert decrypt(server, token, "rotating")["value"] == NEW_VALUE

    # Someone moves AWSCURRENT behind our back: we still read the version our value points at.
    moto.client("secretsmanager").put_secret_value(SecretId=arn, SecretString="written-outside")
    assert decrypt(server, token, "rotating")["value"] == NEW_VALUE


def test_a_ref_reads_a_secret_we_do_not_own_and_delete_leaves_it(aws_server, moto):
    server = aws_server
    client = moto.client("secretsmanager")
    theirs = client.create_secret(Name="team/shared/api-key", SecretString="their-value-1b7e")
    by_name = secure_value("by-name", value=None, ref="team/shared/api-key", decrypters=["k6"])
    by_arn = secure_value("by-arn", value=None, ref=theirs["ARN"], decrypters=["k6"])
    for body in (by_name, by_arn):
        created = server.session.post(server.sv_url(), json=body)
        assert created.status_code == 201, created.text
        assert created.json()["status"]["keeper"] == "aws-prod"
    token, _ = create_token(server, serviceIdentity="k6")
    assert decrypt(server, token, "by-name")["value"] == "their-value-1b7e"
    assert decrypt(server, token, "by-arn")["value"] == "their-value-1b7e"
    client.put_secret_value(SecretId=theirs["ARN"], SecretString="their-value-2")
    assert decrypt(server, token, "by-name")["value"] == "their-value-2"  # a ref follows their current version

    missing = server.session.post(
        server.sv_url(), json=secure_value("nowhere", value=None, ref="no/such", decrypters=["k6"])
    )
    assert missing.status_code == 201
    failed = decrypt(server, token, "nowhere")
    assert (failed["http"], failed["message"]) == (500, "decryption failed")

    for name in ("by-name", "by-arn", "nowhere"):
        assert server.session.delete(server.sv_url(name=name)).status_code == 200
    server.session.post(server.sv_url(), json=secure_value("owned", value=VALUE))
    server.session.delete(server.sv_url(name="owned"))
    wait_for(lambda: [s["Name"] for s in our_secrets(moto)] == ["team/shared/api-key"])
    assert client.get_secret_value(SecretId=theirs["ARN"])["SecretString"] == "their-value-2"


def test_delete_is_immediate_and_the_worker_removes_the_aws_secret(aws_server, moto):
    server = aws_server
    for name in ("one", "two", "three"):
        assert server.session.post(server.sv_url(), json=secure_value(name, value=VALUE)).status_code == 201
    assert len(our_secrets(moto)) == 3
    for name in ("one", "two"):
        deleted = server.session.delete(server.sv_url(name=name))
        assert deleted.status_code == 200 and deleted.json()["status"] == "Success"
        assert server.session.get(server.sv_url(name=name)).status_code == 404
    wait_for(lambda: len(our_secrets(moto)) == 1)
    assert our_secrets(moto)[0]["Name"].split("/")[-2] == "three"
    # The same name again is a new value with a new AWS secret (the uid is in the name).
    again = server.session.post(server.sv_url(), json=secure_value("one", value=NEW_VALUE))
    assert again.status_code == 201
    assert len(our_secrets(moto)) == 2


def test_no_value_kept_in_aws_reaches_our_database_or_logs(aws_server, moto, tmp_path):
    server = aws_server
    marker = "needle-only-in-aws-3f9a"
    server.session.post(server.sv_url(), json=secure_value("needle", value=marker, decrypters=["k6"]))
    server.session.put(
        server.sv_url(name="needle"), json=secure_value("needle", value=marker + "-2", decrypters=["k6"])
    )
    token, _ = create_token(server, serviceIdentity="k6")
    assert decrypt(server, token, "needle")["value"] == marker + "-2"
    server.stop()
    assert files_containing(tmp_path, marker.encode()) == []
    assert moto.account.server_secret not in server.log()
