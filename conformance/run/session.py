"""A run of the suite: its settings, target, credentials, clients, resources and cleanup (class Run),
how it starts (discovery, contract edition, a run-scoped API key) and what xdist workers get from the
controller."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from conformance.contract import Contract, SelectedContract
from conformance.contract.routes import Routes
from conformance.errors import ConformanceError, OptionError, TargetError
from conformance.report.gate import Baseline
from conformance.requirements import drift
from conformance.requirements.derive import placeholders
from conformance.requirements.generation import Budget, DerivedSchema
from conformance.run.kinds import ResourceKinds
from conformance.run.ledger import Ledger, run_prefix
from conformance.run.options import Settings
from conformance.run.resources import Resources
from conformance.run.sweep import SWEEP_ORDER, is_leftover, sweep_kind
from conformance.target import auth as auth_mod
from conformance.target.client import Stats, make_client
from conformance.target.discovery import LOGIN, TargetInfo, discover
from conformance.target.profile import Prober
from conformance.target.profile import profile as deployment_profile
from conformance.target.provision import EmbeddedLangflow, provision, stderr_progress
from conformance.target.secrets import SECRETS, mask
from conformance.target.tenants import Pair, isolation_pair, new_user

API_KEY_CREATE = "api-keys.create"
API_KEY_DELETE = "api-keys.delete"


@dataclass
class Run:
    settings: Settings
    run_id: str
    contract: Contract
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    started_monotonic: float = field(default_factory=time.monotonic)
    selected: SelectedContract | None = None
    target: TargetInfo | None = None
    auth: httpx.Auth | None = None
    edition_source: str = "release"
    embedded: EmbeddedLangflow | None = None
    ledger: Ledger | None = None
    stats: Stats = field(default_factory=Stats)
    client: httpx.Client | None = None
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    report_path: Path | None = None
    report: dict[str, Any] | None = None
    worker: bool = False
    closed: bool = False
    cleanup_interrupted: bool = False  # Ctrl-C while the ledger deleted: the run ends "interrupted" (2)
    login: tuple[str, str] | None = None  # username/password: Bearer tests, @superuser placeholders
    kinds: ResourceKinds | None = None
    main_resources: Resources | None = None
    throwaway: Resources | None = None
    extra_clients: list[httpx.Client] = field(default_factory=list)
    worker_stats: list[dict[str, Any]] = field(default_factory=list)
    cache: dict[str, Any] = field(default_factory=dict)  # per-process values tests share (a login JWT)
    property_generator: DerivedSchema | None = None
    baseline: Baseline | None = None
    previous: dict[str, Any] | None = None  # --compare's report
    selected_part: bool = False  # -m/-k/node ids/deselection: the edition's floor does not apply

    @property
    def prefix(self) -> str:
        """What every resource name of this run starts with (resources.RUN_NAME): short, because
        servers truncate derived names (1.7.3 makes an MCP server name of a project's first 26
        characters), and unique to the run."""
        return run_prefix(self.run_id)

    def http(self) -> httpx.Client:
        if self.client is None:
            assert self.auth is not None
            self.client = self.make_client(self.auth)
        return self.client

    def make_client(self, auth: httpx.Auth) -> httpx.Client:
        """A client of this run: its target, timeout, request counts and connection settings."""
        assert self.target is not None
        return make_client(self.target.url, auth, self.settings.timeout, self.stats, self.settings.connection)

    def generator(self) -> DerivedSchema:
        """schemathesis over the derived contract, loaded once per process."""
        if self.property_generator is None:
            assert self.selected is not None
            self.property_generator = DerivedSchema(self.selected, self.settings.seed)
        return self.property_generator

    @property
    def budget(self) -> Budget:
        return Budget(self.settings.examples, self.settings.property_time)

    def server_openapi(self) -> drift.ServerDocument | str:
        """The deployment's own OpenAPI document (or why there is none), fetched once per process."""
        if "server_openapi" not in self.cache:
            self.cache["server_openapi"] = drift.fetch(self.http())
        return self.cache["server_openapi"]  # type: ignore[no-any-return]

    def resource_kinds(self) -> ResourceKinds:
        if self.kinds is None:
            self.kinds = ResourceKinds.load(self.contract.root / "resources.yaml")
        return self.kinds

    def resources(self) -> Resources:
        """Resources of the suite's own user."""
        if self.main_resources is None:
            assert self.selected is not None and self.ledger is not None
            self.main_resources = Resources(
                self.http(),
                self.selected,
                self.resource_kinds(),
                self.ledger,
                superuser=self.login,
                may_create=self.settings.mode != "read-only",
            )
        return self.main_resources

    def throwaway_resources(self) -> Resources:
        """A user created for this run (full mode): user-destructive requests only touch its data."""
        if self.throwaway is None:
            self.throwaway = new_user(self, "throwaway")
        return self.throwaway

    def isolation_pair(self) -> Pair:
        """The owner and the peer of the isolation requirements (tenants.py), made once."""
        return isolation_pair(self, self.cache)

    def resources_for(self, endpoint: Any) -> Resources:
        """User-destructive requests run as the throwaway user, except user management itself."""
        destructive = endpoint.safety == "user-destructive" and endpoint.auth != "superuser"
        if destructive and "user" not in placeholders(endpoint.example or {}):
            return self.throwaway_resources()
        return self.resources()

    def close(self, worker_failures: list[str] | None = None) -> list[str]:
        """Idempotent: ledger, clients, embedded server, in that order (the ledger needs the server).
        Every process tears down its own ledger: xdist workers create their own resources. The
        controller then reclaims by name what any process could not delete; returns what is left."""
        if self.closed:
            return []
        self.closed = True
        failures: list[str] = []
        self.stats.breaker = False  # cleanup waits for every delete, hanging endpoint or not
        if self.ledger is not None:
            made = [e for e in self.ledger.entries if e.kind != "derived"]
            if made:
                stderr_progress(f"cleanup: deleting the {len(made)} resources this run created")
            try:
                failures = self.ledger.teardown() + list(worker_failures or [])
                for failure in self.ledger.failures:
                    stderr_progress(mask(failure))
                if failures and not self.worker and not self.ledger.server_gone:
                    failures = self._reclaim(len(failures))
                failures += self.ledger.finish()
            except KeyboardInterrupt:  # the report still gets written, and the server stopped
                self.cleanup_interrupted = True
                failures = [
                    f"cleanup interrupted: {len(self.ledger.entries) or 'some'} resources named {self.ledger.prefix}-*"
                    " are left on the server; run again with --sweep to delete them"
                ]
                stderr_progress(failures[0])
        for client in self.extra_clients:
            client.close()
        if self.client is not None:
            self.client.close()
        if self.embedded is not None:
            self.embedded.stop()
        return failures

    def _reclaim(self, count: int) -> list[str]:
        """Deletes that failed after the ledger's retries, tried once more by this run's name prefix
        when every worker is done: on 1.13.0 a sqlite lock held by the other xdist worker turns a
        project delete into a 500 for as long as that worker writes (finding F15)."""
        assert self.ledger is not None
        stderr_progress(f"cleanup: {count} deletes failed; looking for this run's leftovers in {RECLAIM_PAUSE_S:.0f} s")
        time.sleep(RECLAIM_PAUSE_S)
        own = re.compile(re.escape(self.ledger.prefix) + "-")
        left: list[str] = []

        def note(line: str) -> None:
            stderr_progress(mask(line.replace("sweep:", "cleanup:", 1)))
            if "could not delete" in line:
                left.append(line.removeprefix("sweep: "))

        try:
            for kind in SWEEP_ORDER:
                sweep_kind(self.resources(), kind, lambda name: is_leftover(name, own), note, by_release=True)
        except (httpx.HTTPError, ConformanceError) as exc:
            return [f"could not look for this run's leftovers: {type(exc).__name__}: {exc}"]
        return left


# After the ledger gave up, how long the controller waits for the server's writers to finish.
RECLAIM_PAUSE_S = 5.0


def select_edition_option(run: Run) -> None:
    wanted = run.settings.contract_edition
    if wanted and run.contract.editions.get(wanted) is None:
        raise OptionError(
            f"--contract-edition {wanted!r} is unknown; choose one of {', '.join(run.contract.editions.ids)}"
        )


def select_edition(run: Run) -> None:
    assert run.target is not None
    select_edition_option(run)
    wanted = run.settings.contract_edition
    run.edition_source = "option" if wanted else "release"
    run.selected = run.contract.select(run.target.release, wanted)


def run_scoped_api_key(run: Run) -> None:
    """Trade the login for an API key the run deletes at the end (its delete is the ledger's first entry,
    so it goes last)."""
    client = run.http()
    if isinstance(run.auth, (auth_mod.LoginAuth, auth_mod.BearerAuth)) and run.auth.token:
        run.cache["bearer"] = run.auth.token  # bearer requirements reuse it: logins are rate limited
    create, delete = run.contract.endpoint(API_KEY_CREATE), run.contract.endpoint(API_KEY_DELETE)
    response = client.request(create.method, create.path, json={"name": f"{run.prefix}-key"})
    if response.status_code not in create.responses:
        raise ConformanceError(
            f"could not create the run's API key ({create.operation}): {response.status_code} {response.text[:120]}"
        )
    try:
        created = response.json()
        SECRETS.add(created["api_key"])
        created["id"]
    except (ValueError, TypeError, KeyError) as exc:  # a deployment that answers, but not like Langflow
        raise TargetError(
            f"could not create the run's API key ({create.operation}): the answer has no api_key and id "
            f"({type(exc).__name__}); use --api-key to run without one"
        ) from exc
    key_path = delete.path.replace("{api_key_id}", str(created["id"]))
    assert run.ledger is not None

    def delete_key() -> None:
        try:
            client.request(delete.method, key_path)
        finally:
            client.close()  # the login client lives only until the key it made is gone

    run.ledger.add("api-key", created["id"], delete_key, final=True)  # cleanup itself needs it
    run.auth = auth_mod.ApiKeyAuth(created["api_key"])
    run.client = None  # the next request uses the key; the login client stays for the ledger
    assert run.target is not None
    run.target.auth = f"api-key (header), created for this run ({run.target.auth})"


def discover_target(run: Run) -> None:
    settings = run.settings
    credentials = None
    if settings.embedded:
        run.embedded = provision(settings.langflow_version)
        url = run.embedded.url
        credentials = auth_mod.LoginAuth(
            url, run.contract.endpoint(LOGIN).path, run.embedded.username, run.embedded.password
        )
        run.login = (run.embedded.username, run.embedded.password)
    else:
        assert settings.server is not None
        url = settings.server
        if settings.username and settings.password:
            run.login = (settings.username, settings.password)
    run.target, run.auth = discover(settings, run.contract, url, credentials)
    run.ledger = Ledger(prefix=run.prefix)
    if run.embedded is not None:
        run.target.embedded = run.embedded.describe()
    # The run endpoints, MCP and /responses take only API keys (a login JWT gets 403 "An API key must
    # be passed"): a run that logged in trades the login for a key of its own, deleted at the end.
    traded = isinstance(run.auth, auth_mod.LoginAuth) or (
        isinstance(run.auth, auth_mod.BearerAuth) and run.target.auth == "auto_login JWT"
    )
    if traded and settings.mode != "read-only" and not settings.sweep:
        run_scoped_api_key(run)
    select_edition(run)
    assert run.selected is not None
    route_requests(run)
    off = run.embedded.features_off if run.embedded is not None else None
    with run.make_client(auth_mod.Anonymous()) as anonymous:
        prober = Prober(run.http(), anonymous, settings.mode != "read-only", run.login)
        run.target.profile = deployment_profile(prober, run.selected, run.target.config, run.target.auto_login, off)


def route_requests(run: Run) -> None:
    """The timeout breaker learns which endpoint each request is for."""
    assert run.selected is not None and run.target is not None
    run.stats.route = Routes(run.selected.endpoints, urlsplit(run.target.url).path).match


def to_workers(run: Run) -> str:
    assert run.target is not None and run.auth is not None and run.selected is not None
    return json.dumps(
        {
            "run_id": run.run_id,
            "target": run.target.to_dict(),
            "auth": auth_mod.to_wire(run.auth),
            "edition": run.selected.edition.id,
            "edition_source": run.edition_source,
            "login": list(run.login) if run.login else None,
            "bearer": run.cache.get("bearer"),
        }
    )


def from_controller(run: Run, data: dict[str, Any]) -> None:
    run.worker = True
    run.run_id = data["run_id"]
    run.target = TargetInfo.from_dict(data["target"])
    run.auth = auth_mod.from_wire(data["auth"])
    run.edition_source = data["edition_source"]
    forced = data["edition"] if data["edition_source"] == "option" else None
    run.selected = run.contract.select(run.target.release, forced)
    route_requests(run)
    run.ledger = Ledger(prefix=run.prefix)
    run.login = tuple(data["login"]) if data.get("login") else None  # type: ignore[assignment]
    if run.login:
        SECRETS.add(run.login[1])
    if data.get("bearer"):
        SECRETS.add(data["bearer"])
        run.cache["bearer"] = data["bearer"]
