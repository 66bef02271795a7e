"""`/livez` and `/readyz` list their checks as kube-apiserver does, without credentials."""

from __future__ import annotations

import pytest
import requests


@pytest.fixture(scope="module")
def srv(shared_server):
    return shared_server


def get(srv, path: str, **params) -> requests.Response:
    return requests.get(srv.url + path, params=params, timeout=10)  # no token: probes have none


def test_healthy_probes_answer_ok(srv):
    for path in ("/livez", "/readyz"):
        response = get(srv, path)
        assert (response.status_code, response.text) == (200, "ok")


def test_readyz_verbose_lists_every_check(srv):
    response = get(srv, "/readyz", verbose="")
    assert response.status_code == 200
    lines = response.text.splitlines()
    assert lines[0] == "[+]ping ok"
    assert "[+]store ok" in lines
    assert lines[-1] == "readyz check passed"
    assert all(line.startswith("[+]") for line in lines[:-1])


def test_livez_verbose_lists_only_liveness_checks(srv):
    response = get(srv, "/livez", verbose="1")
    assert response.status_code == 200
    assert response.text.splitlines() == ["[+]ping ok", "livez check passed"]


def test_one_check_by_name(srv):
    response = get(srv, "/readyz/store")
    assert (response.status_code, response.text) == (200, "ok")
    assert get(srv, "/livez/ping").status_code == 200
    assert get(srv, "/livez/store").status_code == 404  # not a liveness check
    missing = get(srv, "/readyz/no-such-check")
    assert missing.status_code == 404
    assert "no-such-check" not in missing.text


def test_exclude_leaves_checks_out_and_warns_about_unknown_names(srv):
    response = get(srv, "/readyz", verbose="", exclude=["store", "bogus<b>"])
    assert response.status_code == 200
    lines = response.text.splitlines()
    assert "[+]store ok" not in lines and "[+]ping ok" in lines
    assert "warn: some health checks cannot be excluded: no matches for bogusb" in lines
    assert "<" not in response.text
