"""The Cloudflare facade's pure pieces: error translation, list queries, timestamps, the comment/description mapping."""

from __future__ import annotations

import orjson
import pytest
from multidict import MultiDict, MultiDictProxy

from apiserver.compat.cloudflare_wire import SECRET_ORDERS, ListQuery, render_error, timestamp
from apiserver.machinery.errors import (
    AlreadyExists,
    ApiError,
    Forbidden,
    InternalError,
    KeyTaken,
    NotFound,
    Unauthorized,
    conflict,
    field_error,
    invalid,
    not_found,
    too_many_requests,
)
from apiserver.resources.secretstore import StoreLimitExceeded, StoreNotEmpty
from apiserver.services.cloudflare_secrets import description_for, refused


def rendered(error: ApiError) -> tuple[int, dict, str | None]:
    response = render_error(error)
    body = orjson.loads(response.body)
    assert body["success"] is False and body["result"] is None and body["messages"] == []
    return response.status, body["errors"][0], response.headers.get("x-should-retry")


@pytest.mark.parametrize(
    "error, status, code, message",
    [
        (Unauthorized("Unauthorized"), 403, 10000, "Authentication error"),
        (Forbidden("no"), 403, 10000, "Authentication error"),
        (StoreLimitExceeded(1), 400, 1003, "maximum_stores_exceeded"),
        (StoreNotEmpty("a" * 32), 409, 1004, "store_not_empty"),
        (refused("maximum_secrets_exceeded"), 400, 1003, "maximum_secrets_exceeded"),
        (refused("secret_scopes_empty"), 400, 1001, "secret_scopes_empty"),
        (not_found("securevalues", "x", "secret.grafana.app"), 404, 1002, "secret_not_found"),
        (not_found("secretstores", "x", "cloudflare.compat.apiserver.local"), 404, 1002, "store_not_found"),
        (NotFound("no route"), 404, 7003, "No route for that URI"),
        (AlreadyExists("taken"), 409, 1004, "secret_name_already_exists"),
        (KeyTaken("the key is already held"), 409, 1004, "secret_name_already_exists"),
        (
            invalid("SecureValue", "n", [field_error("too_long", "spec.value", "may not be more than 65536 bytes")]),
            400,
            1001,
            "secret_value_too_long",
        ),
    ],
)
def test_errors_translate_to_cloudflare_codes_and_are_final(error, status, code, message):
    assert rendered(error) == (status, {"code": code, "message": message}, "false")


def test_retryable_errors_are_not_marked_final():
    assert rendered(too_many_requests(3))[2] is None
    assert rendered(conflict("securevalues", "n", "secret.grafana.app"))[2] is None  # a lost write race
    assert rendered(InternalError("boom"))[1] == {"code": 1000, "message": "internal_error"}


def query(**params) -> MultiDictProxy:
    items = []
    for key, value in params.items():
        items += [(key, v) for v in value] if isinstance(value, list) else [(key, str(value))]
    return MultiDictProxy(MultiDict(items))


def test_list_query_defaults_caps_and_windows():
    q = ListQuery.parse(query(), SECRET_ORDERS)
    assert (q.page, q.per_page, q.order, q.descending, q.scopes) == (1, 20, None, False, ())
    q = ListQuery.parse(
        query(page=0, per_page=1000, order="bogus", direction="desc", scopes=["workers", "dex"]), SECRET_ORDERS
    )
    assert (q.page, q.per_page, q.order, q.descending, q.scopes) == (1, 100, None, True, ("workers", "dex"))
    q = ListQuery.parse(query(page=3, per_page=2), SECRET_ORDERS)
    assert q.window(list(range(5))) == ([4], {"page": 3, "per_page": 2, "count": 1, "total_count": 5})
    assert q.window(list(range(4)))[0] == []
    for bad in ({"page": "x"}, {"per_page": "-1"}, {"direction": "up"}):
        with pytest.raises(ApiError) as raised:
            ListQuery.parse(query(**bad), SECRET_ORDERS)
        assert raised.value.code == 400


def test_timestamps_are_rfc3339_utc_with_z():
    assert timestamp("2026-01-02T03:04:05Z") == "2026-01-02T03:04:05.000000Z"
    assert timestamp("2026-01-02T05:04:05.5+02:00") == "2026-01-02T03:04:05.500000Z"


def test_description_is_the_comment_shortened_or_the_name():
    assert description_for("short", "NAME") == "short"
    long = description_for("a comment that is longer than twenty-five runes", "NAME")
    assert len(long) == 25 and long.endswith("…") and long.startswith("a comment that is longer")
    assert description_for(None, "MY_KEY") == description_for("  \n ", "MY_KEY") == "MY_KEY"
    assert len(description_for(None, "N" * 200)) == 25
    assert description_for("ünïcödé " * 10, "N")[:7] == "ünïcödé"
