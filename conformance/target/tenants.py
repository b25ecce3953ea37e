"""The users a run acts as besides its own: a throwaway user (full mode: user-destructive requests only
touch its data) and, for the isolation requirements, an owner and a peer — two ordinary users the run
creates with its superuser credentials, or the run's own user and a peer account a platform team
brings (--peer-api-key). Every user the run creates is in the ledger before its first resource, so
teardown removes it last, with everything it owns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from conformance.errors import CredentialsError
from conformance.run.kinds import ResourceUnavailable, request_kwargs
from conformance.run.resources import Resources
from conformance.target import auth as auth_mod

LOGIN = "auth.login"
NO_PEER = (
    "needs a second user: give --peer-api-key KEY (another ordinary user's API key), or superuser "
    "credentials so the run creates two ordinary users"
)


class RunLike(Protocol):
    """What this module needs of the plugin's Run."""

    extra_clients: list[httpx.Client]
    contract: Any
    target: Any
    settings: Any

    def resources(self) -> Resources: ...

    def make_client(self, auth: httpx.Auth) -> httpx.Client: ...


def new_user(run: RunLike, role: str) -> Resources:
    """An ordinary user of this run (named with its prefix), logged in once to get an API key of its
    own (/run, MCP and /responses take only keys), and its resources."""
    main = run.resources()
    user = main.create("user")
    kind = main.kinds["user"]
    activate = kind.step("update", main.contract)
    if activate is not None:  # new users may wait for approval (is_active false)
        main.client.request(**request_kwargs(activate, main.values(kind, user), main.content))
    assert user.password is not None
    login_path = run.contract.endpoint(LOGIN).path
    login = run.make_client(auth_mod.LoginAuth(run.target.url, login_path, user.name, user.password))
    run.extra_clients.append(login)
    owner = f"{role} {user.name}"
    key = Resources(login, main.contract, main.kinds, main.ledger, owner=owner).create("api_key")
    client = run.make_client(auth_mod.ApiKeyAuth(str(key.field("api_key"))))
    run.extra_clients.append(client)
    return Resources(client, main.contract, main.kinds, main.ledger, owner=owner)


@dataclass
class Pair:
    """Who tries whose resources: the peer the owner's, and (unless `reverse` says why not) back."""

    owner: Resources
    peer: Resources
    reverse: str | None = None


def isolation_pair(run: RunLike, cache: dict[str, Any]) -> Pair:
    """Made once per process; raises ResourceUnavailable saying why there is no pair."""
    if "pair" in cache:
        found = cache["pair"]
        if isinstance(found, str):
            raise ResourceUnavailable(found)
        return found  # type: ignore[no-any-return]
    try:
        cache["pair"] = _make_pair(run)
    except CredentialsError as exc:
        # Behind a gateway that authenticates every request itself (--token), a user the run creates
        # cannot log in: the deployment has one identity from here.
        cache["pair"] = (
            f"the users the run created for isolation cannot log in ({exc}); a gateway in front that "
            "authenticates every request itself leaves one identity: give --peer-api-key KEY of a second user "
            "the gateway lets through"
        )
        raise ResourceUnavailable(cache["pair"]) from None
    except (ResourceUnavailable, httpx.HTTPError) as exc:
        cache["pair"] = f"could not set up the isolation users: {exc}"
        raise ResourceUnavailable(cache["pair"]) from None
    return cache["pair"]  # type: ignore[no-any-return]


def _make_pair(run: RunLike) -> Pair:
    peer_key = run.settings.peer_api_key
    if peer_key:
        main = run.resources()
        client = run.make_client(auth_mod.ApiKeyAuth(peer_key))
        run.extra_clients.append(client)
        peer = Resources(client, main.contract, main.kinds, main.ledger, owner="peer (--peer-api-key)")
        reverse = (
            "the run's own user is a superuser: its reach over other users' resources is what the documents "
            "give a superuser, not peer isolation"
            if run.target.superuser
            else None
        )
        return Pair(main, peer, reverse)
    if run.target.superuser is False:
        raise ResourceUnavailable(NO_PEER)
    return Pair(new_user(run, "owner"), new_user(run, "peer"))
