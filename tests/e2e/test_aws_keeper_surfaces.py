"""Values kept in AWS through every surface: Grafana's gRPC decrypt, the InfluxDB facade, kubectl."""

from __future__ import annotations

import os
import signal

import grpc
import pytest
from aws_support import activate_aws_keeper, moto, our_secrets, wait_for
from grpc_support import code_of, start_grpc_server
from harness import secure_value
from influxdb_client.service.secrets_service import SecretsService
from influxdb_support import client, native_keys, new_org
from kubectl_support import find_kubectl, make_kubectl


def test_grpc_decrypt_reads_values_kept_in_aws(tmp_path, moto):
    grpc_server = start_grpc_server(
        tmp_path / "data", env=moto.server_env(APISERVER_AWS_TIMEOUT_SECONDS="1"), seed=False
    )
    server = grpc_server.server
    try:
        activate_aws_keeper(server)
        for name, value in (("db", "grpc-aws-value-1"), ("other", "grpc-aws-value-2")):
            body = secure_value(name, value=value, decrypters=["svc-a"] if name == "db" else ["svc-b"])
            created = server.session.post(server.sv_url(), json=body)
            assert created.status_code == 201 and created.json()["status"]["keeper"] == "aws-prod"
        metadata = (("authorization", f"Bearer {grpc_server.service_token}"),)
        for package in ("decryptv1beta1", "decryptv1"):
            results = grpc_server.decrypt(["db", "other", "absent"], package=package, metadata=metadata)
            assert results == {
                "db": "grpc-aws-value-1",
                "other": ("error", "not authorized"),
                "absent": ("error", "not found"),
            }
        assert len(our_secrets(moto)) == 2
        os.killpg(moto.process.pid, signal.SIGSTOP)  # AWS stops answering: the call is UNAVAILABLE, retried
        try:
            code = code_of(lambda: grpc_server.decrypt(["db"], metadata=metadata))
            assert code == grpc.StatusCode.UNAVAILABLE
        finally:
            os.killpg(moto.process.pid, signal.SIGCONT)
        assert grpc_server.decrypt(["db"], metadata=metadata) == {"db": "grpc-aws-value-1"}
    finally:
        server.stop()


def test_the_influxdb_facade_keeps_its_secrets_in_aws(server_factory, moto):
    server = server_factory(env=moto.server_env(APISERVER_KEEPER_CLEANUP_SECONDS="0.3"))
    namespace, org_id = new_org(server)
    activate_aws_keeper(server, namespace)
    influx = client(server)
    try:
        service = SecretsService(influx.api_client)
        service.patch_orgs_id_secrets(org_id=org_id, request_body={"Token": "influx-aws-1", "other": "x"})
        native = native_keys(server, namespace)
        assert {k: v["status"]["keeper"] for k, v in native.items()} == {"Token": "aws-prod", "other": "aws-prod"}
        by_arn = {s["ARN"]: s for s in our_secrets(moto)}
        secret = moto.client("secretsmanager").get_secret_value(SecretId=native["Token"]["status"]["externalID"])
        assert secret["SecretString"] == "influx-aws-1" and len(by_arn) == 2
        service.patch_orgs_id_secrets(org_id=org_id, request_body={"Token": "influx-aws-2"})
        secret = moto.client("secretsmanager").get_secret_value(SecretId=native["Token"]["status"]["externalID"])
        assert secret["SecretString"] == "influx-aws-2"
        service.delete_orgs_id_secrets_id(org_id=org_id, secret_id="other")
        wait_for(lambda: len(our_secrets(moto)) == 1)
    finally:
        influx.close()


def test_kubectl_get_keepers_shows_their_health(server_factory, moto, tmp_path):
    binary = find_kubectl()
    if binary is None:
        pytest.skip("kubectl is not installed")
    server = server_factory("--tls-self-signed", env=moto.server_env(), scheme="https")  # kubectl sends tokens over TLS
    server.session.trust_env = False  # else REQUESTS_CA_BUNDLE would replace the session's verify=False
    activate_aws_keeper(server)
    server.session.post(
        server.keeper_url(),
        json={
            "apiVersion": "secret.grafana.app/v1beta1",
            "kind": "Keeper",
            "metadata": {"name": "aws-later"},
            "spec": {
                "description": "not yet activated",
                "aws": {
                    "region": "eu-west-1",
                    "assumeRole": {"assumeRoleArn": "arn:aws:iam::123456789012:role/x", "externalID": "y"},
                },
            },
        },
    )
    kubectl = make_kubectl(binary, server, tmp_path / "kube")
    lines = kubectl.ok("get", "keepers", "-n", "default").splitlines()
    header = lines[0].split()
    assert header[:5] == ["NAME", "DESCRIPTION", "TYPE", "ACTIVE", "HEALTH"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert "Healthy" in rows["aws-prod"] and "true" in rows["aws-prod"]
    assert "Unchecked" in rows["aws-later"]
