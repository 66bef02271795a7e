"""AWS's emulator for the aws keeper's tests: moto in server mode on loopback, driven with boto3.

`MotoServer` runs `python -m moto.server` on a free port in its own process, so a test can stop
and start it (AWS unreachable, then back). The apiserver under test is pointed at it with the
standard AWS variables only (`AWS_ENDPOINT_URL`, credentials, region), as an operator would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
import requests
from harness import free_port, stop_process_group

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default account
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/apiserver-keeper"
EXTERNAL_ID = "apiserver-external-id-7f3a"


@dataclass
class MotoServer:
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen | None = None
    account: Account | None = None

    def __post_init__(self) -> None:
        self.port = self.port or free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> MotoServer:
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env},
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto exited with {self.process.returncode}: {self.log_path.read_text()}")
            try:
                if requests.get(f"{self.url}/moto-api/", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError("moto did not start")

    def stop(self) -> None:
        stop_process_group(self.process)
        self.process = None

    def client(self, service: str):
        """A boto3 client of the emulator as the account's administrator (before set-up: anyone)."""
        key, secret = (self.account.admin_key, self.account.admin_secret) if self.account else ("setup", "setup")
        return boto3.client(
            service, region_name=REGION, endpoint_url=self.url, aws_access_key_id=key, aws_secret_access_key=secret
        )

    def assumed_roles(self) -> list[dict]:
        """The AssumeRole calls moto recorded: role, session name and external ID of each."""
        data = requests.get(f"{self.url}/moto-api/data.json", timeout=5).json()
        return data.get("sts", {}).get("AssumedRole", [])

    def server_env(self, **extra: str) -> dict[str, str]:
        """What an apiserver needs to reach this emulator: the standard AWS variables, nothing of ours."""
        assert self.account is not None
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": self.account.server_key,
            "AWS_SECRET_ACCESS_KEY": self.account.server_secret,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true",
            **extra,
        }


@dataclass(frozen=True)
class Account:
    """The emulated account once IAM is set up: the server's user, and an administrator for the tests."""

    server_key: str
    server_secret: str
    admin_key: str
    admin_secret: str


def _trust(principal: str, external_id: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": principal},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
                }
            ],
        }
    )


def _allow(action: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]})


def set_up_account(moto: MotoServer) -> Account:
    """IAM as an operator sets it up, then moto enforces it (every later request is authorized).

    The server's user may only assume roles; `apiserver-keeper` trusts it with EXTERNAL_ID and may
    use Secrets Manager; `no-secrets` trusts it too but may do nothing else.
    """
    iam = moto.client("iam")
    keys = {}
    for user, policy in (("apiserver", "sts:AssumeRole"), ("admin", "*")):
        arn = iam.create_user(UserName=user)["User"]["Arn"]
        iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=_allow(policy))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        keys[user] = (key["AccessKeyId"], key["SecretAccessKey"], arn)
    server_arn = keys["apiserver"][2]
    iam.create_role(RoleName="apiserver-keeper", AssumeRolePolicyDocument=_trust(server_arn, EXTERNAL_ID))
    iam.put_role_policy(RoleName="apiserver-keeper", PolicyName="p", PolicyDocument=_allow("secretsmanager:*"))
    iam.create_role(RoleName="no-secrets", AssumeRolePolicyDocument=_trust(server_arn, EXTERNAL_ID))
    requests.post(f"{moto.url}/moto-api/reset-auth", data=b"0", timeout=5).raise_for_status()
    moto.account = Account(keys["apiserver"][0], keys["apiserver"][1], keys["admin"][0], keys["admin"][1])
    return moto.account


@pytest.fixture
def moto(tmp_path):
    """An emulator whose IAM is set up and enforced (see `set_up_account`)."""
    server = MotoServer(tmp_path / "moto.log").start()
    set_up_account(server)
    yield server
    server.stop()


def aws_keeper(name: str = "aws-prod", *, region: str = REGION, role: str = ROLE_ARN, external_id: str = EXTERNAL_ID):
    return {
        "apiVersion": "secret.grafana.app/v1beta1",
        "kind": "Keeper",
        "metadata": {"name": name},
        "spec": {
            "description": "AWS test account",
            "aws": {"region": region, "assumeRole": {"assumeRoleArn": role, "externalID": external_id}},
        },
    }


def activate_aws_keeper(server, namespace: str = "default", name: str = "aws-prod", **keeper) -> dict:
    created = server.session.post(server.keeper_url(namespace), json=aws_keeper(name, **keeper))
    assert created.status_code == 201, created.text
    activated = server.session.post(f"{server.keeper_url(namespace, name)}/activate")
    assert activated.status_code == 200, activated.text
    return activated.json()


def our_secrets(moto: MotoServer) -> list[dict]:
    """Every secret in the emulator's region (what an operator would list in the account)."""
    client = moto.client("secretsmanager")
    found: list[dict] = []
    for page in client.get_paginator("list_secrets").paginate():
        found += page["SecretList"]
    return found


def wait_for(condition, timeout: float = 30.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError("condition not met in time")
