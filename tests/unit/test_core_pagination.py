"""Opaque next_token round trips and `limit` parsing, with 400s that say what to change."""

from __future__ import annotations

import base64
import json

import pytest

from genai_core.errors import InvalidRequest
from genai_core.pagination import DEFAULT_LIMIT, MAX_LIMIT, checked_start_key, decode_token, encode_token, parse_limit


def test_a_start_key_survives_the_round_trip() -> None:
    # GIVEN a DynamoDB-style start key
    key = {"pk": "APP#a1", "sk": "PROMPT#greeting#v0003", "n": 3}

    # WHEN it is encoded into a token and the client sends it back
    token = encode_token(key)

    # THEN the same key is decoded
    assert decode_token(token) == key


def test_the_token_is_url_safe_without_padding() -> None:
    # GIVEN a key whose JSON encodes to base64 with '+', '/' and padding in standard base64
    key = {"k": "??>>~~~"}

    # WHEN it is encoded
    token = encode_token(key)

    # THEN it can go in a query string as is
    assert token is not None
    assert not set(token) & set("+/=")


def test_equal_keys_give_the_same_token_whatever_their_order() -> None:
    # GIVEN the same key built in two orders
    # WHEN / THEN the tokens are identical
    assert encode_token({"a": 1, "b": 2}) == encode_token({"b": 2, "a": 1})


@pytest.mark.parametrize("key", [None, {}])
def test_no_start_key_means_no_next_page(key: dict | None) -> None:
    # GIVEN the last page (no LastEvaluatedKey)
    # WHEN / THEN there is no token
    assert encode_token(key) is None


@pytest.mark.parametrize("token", [None, ""])
def test_no_token_means_the_first_page(token: str | None) -> None:
    # GIVEN a request without next_token
    # WHEN / THEN decoding gives no start key
    assert decode_token(token) is None


@pytest.mark.parametrize(
    "token",
    [
        "not a token!",
        base64.urlsafe_b64encode(b"{broken json").decode(),
        base64.urlsafe_b64encode(json.dumps([1, 2]).encode()).decode(),
        base64.urlsafe_b64encode(json.dumps("text").encode()).decode(),
        base64.urlsafe_b64encode(b"\xff\xfe\x00garbage").decode(),
    ],
    ids=["not-base64", "not-json", "json-list", "json-string", "not-utf8"],
)
def test_a_token_this_api_did_not_issue_is_a_400_naming_next_token(token: str) -> None:
    # GIVEN a forged or mangled next_token
    # WHEN it is decoded
    with pytest.raises(InvalidRequest) as err:
        decode_token(token)

    # THEN the error points at next_token
    assert err.value.param == "next_token"
    assert "next_token" in err.value.message


@pytest.mark.parametrize("raw", [None, ""])
def test_no_limit_gives_the_default(raw: str | None) -> None:
    # GIVEN no limit in the query
    # WHEN / THEN the default page size is used
    assert parse_limit(raw) == DEFAULT_LIMIT


def test_a_custom_default_is_used_when_no_limit_is_given() -> None:
    # GIVEN a route with its own default page size
    # WHEN / THEN that default is used
    assert parse_limit(None, default=50) == 50


@pytest.mark.parametrize(("raw", "expected"), [("1", 1), ("37", 37), (str(MAX_LIMIT), MAX_LIMIT), (5, 5)])
def test_a_limit_within_bounds_is_parsed(raw: str | int, expected: int) -> None:
    # GIVEN a limit from 1 to the maximum, as a query string or a number
    # WHEN / THEN it is used as given
    assert parse_limit(raw) == expected


@pytest.mark.parametrize("raw", ["0", "-3", str(MAX_LIMIT + 1), "ten", "2.5"])
def test_a_limit_out_of_bounds_or_not_whole_is_a_400_naming_limit(raw: str) -> None:
    # GIVEN a bad limit
    # WHEN it is parsed
    with pytest.raises(InvalidRequest) as err:
        parse_limit(raw)

    # THEN the error names limit and the accepted range
    assert err.value.param == "limit"
    assert f"1 to {MAX_LIMIT}" in err.value.message


def test_a_route_specific_maximum_is_enforced() -> None:
    # GIVEN a route allowing at most 10 items
    # WHEN 11 are asked for
    with pytest.raises(InvalidRequest, match="1 to 10"):
        parse_limit("11", maximum=10)


def test_a_start_key_this_listing_issued_becomes_the_exclusive_start_key() -> None:
    start = {"pk": "APP#a", "sk": "DOCUMENT#2026#d1", "gsi1sk": "x"}
    key = checked_start_key(start, {"pk": "APP#a"}, {"sk": "DOCUMENT#", "gsi1sk": ""})
    assert key == {"pk": {"S": "APP#a"}, "sk": {"S": "DOCUMENT#2026#d1"}, "gsi1sk": {"S": "x"}}


@pytest.mark.parametrize(
    "start",
    [
        {"pk": "APP#b", "sk": "DOCUMENT#1"},  # another owner's listing
        {"pk": "APP#a", "sk": "PROMPT#1"},  # another kind of item
        {"pk": "APP#a"},  # a key missing
        {"pk": "APP#a", "sk": "DOCUMENT#1", "extra": "1"},  # a key too many
        {"pk": "APP#a", "sk": 1},  # not a string
    ],
)
def test_a_start_key_of_another_listing_is_a_400(start: dict[str, object]) -> None:
    with pytest.raises(InvalidRequest) as err:
        checked_start_key(start, {"pk": "APP#a"}, {"sk": "DOCUMENT#"})
    assert err.value.param == "next_token"
