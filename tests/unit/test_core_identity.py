"""The caller, as built from the claims the Cognito authorizer hands to the function, and its checks."""

from __future__ import annotations

from typing import Any

import pytest

from genai_core.errors import PermissionDenied, Unauthenticated
from genai_core.identity import Caller, caller_from_event


def event_with(claims: dict[str, Any] | None) -> dict[str, Any]:
    context: dict[str, Any] = {"requestId": "req-1", "stage": "dev"}
    if claims is not None:
        context["authorizer"] = {"claims": claims}
    return {"resource": "/v1/whoami", "httpMethod": "GET", "requestContext": context}


def test_an_app_token_gives_the_client_id_and_its_scopes() -> None:
    # GIVEN the claims of a client-credentials access token (scope is space separated)
    claims = {"client_id": "app123", "token_use": "access", "scope": "genai/invoke genai/prompts.read"}

    # WHEN the caller is built
    caller = caller_from_event(event_with(claims))

    # THEN it is the app, with both scopes, no user and no groups
    assert caller == Caller(app_id="app123", scopes=frozenset({"genai/invoke", "genai/prompts.read"}))


def test_an_id_token_uses_its_audience_and_cognito_username() -> None:
    # GIVEN the claims of an ID token of a pool user (no client_id, no scope)
    claims = {"aud": "portal-client", "token_use": "id", "cognito:username": "alice"}

    # WHEN the caller is built
    caller = caller_from_event(event_with(claims))

    # THEN the app is the audience and the user is named
    assert (caller.app_id, caller.username, caller.scopes) == ("portal-client", "alice", frozenset())


def test_the_username_claim_wins_over_cognito_username() -> None:
    # GIVEN an access token of a user, which carries `username`
    claims = {"client_id": "c", "username": "bob", "cognito:username": "ignored"}

    # WHEN / THEN the caller is that user
    assert caller_from_event(event_with(claims)).username == "bob"


@pytest.mark.parametrize(
    "raw",
    ["[admins ops]", "admins,ops", "admins, ops", "admins ops", ["admins", "ops"]],
    ids=["rest-bracketed", "comma", "comma-space", "space", "list"],
)
def test_groups_are_parsed_from_every_shape_the_authorizer_uses(raw: Any) -> None:
    # GIVEN cognito:groups flattened the way REST API authorizers do (or left as a list)
    claims = {"client_id": "c", "cognito:groups": raw}

    # WHEN the caller is built
    caller = caller_from_event(event_with(claims))

    # THEN both groups are recognised
    assert caller.groups == frozenset({"admins", "ops"})


@pytest.mark.parametrize("raw", [None, "", "[]"])
def test_no_groups_means_an_empty_set(raw: Any) -> None:
    # GIVEN a token without groups
    claims = {"client_id": "c", "cognito:groups": raw}

    # WHEN / THEN the caller belongs to no group
    assert caller_from_event(event_with(claims)).groups == frozenset()


def test_a_request_without_authorizer_claims_is_unauthenticated() -> None:
    # GIVEN an event that came through a route without an authorizer
    # WHEN the caller is built
    # THEN it is refused as unauthenticated
    with pytest.raises(Unauthenticated):
        caller_from_event(event_with(None))


def test_claims_without_a_client_id_or_audience_are_unauthenticated() -> None:
    # GIVEN claims that name no app
    # WHEN / THEN the caller is refused
    with pytest.raises(Unauthenticated):
        caller_from_event(event_with({"sub": "someone", "scope": "genai/invoke"}))


def test_an_event_without_request_context_is_unauthenticated() -> None:
    # GIVEN an event with no requestContext at all (a direct invoke)
    # WHEN / THEN the caller is refused
    with pytest.raises(Unauthenticated):
        caller_from_event({"httpMethod": "GET"})


def test_require_any_scope_passes_with_one_of_the_scopes() -> None:
    # GIVEN a caller holding only genai/prompts.read
    caller = Caller(app_id="a", scopes=frozenset({"genai/prompts.read"}))

    # WHEN a route accepts prompts.read or prompts.write
    # THEN no error is raised
    caller.require_any_scope("genai/prompts.write", "genai/prompts.read")


def test_require_any_scope_refuses_without_any_of_the_scopes() -> None:
    # GIVEN a caller holding only genai/invoke
    caller = Caller(app_id="a", scopes=frozenset({"genai/invoke"}))

    # WHEN a route needs a prompts scope
    with pytest.raises(PermissionDenied) as err:
        caller.require_any_scope("genai/prompts.read", "genai/prompts.write")

    # THEN it is refused with a code and a message naming the scopes to ask for
    assert err.value.code == "insufficient_scope"
    assert "genai/prompts.read" in err.value.message
    assert "genai/prompts.write" in err.value.message


def test_an_admin_group_member_passes_require_admin() -> None:
    # GIVEN a user in the admins group
    caller = Caller(app_id="portal", scopes=frozenset(), username="alice", groups=frozenset({"admins"}))

    # WHEN / THEN the admin check passes
    assert caller.is_admin
    caller.require_admin()


def test_a_user_outside_the_admin_group_is_refused_by_require_admin() -> None:
    # GIVEN a user in another group
    caller = Caller(app_id="portal", scopes=frozenset(), username="bob", groups=frozenset({"ops"}))

    # WHEN the admin check runs
    with pytest.raises(PermissionDenied) as err:
        caller.require_admin()

    # THEN it is refused, naming the group needed
    assert err.value.code == "admin_required"
    assert "'admins'" in err.value.message
