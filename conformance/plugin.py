"""The pytest plugin (entry point pytest11): options, target discovery before any test, fixtures,
requirement parametrization, outcome collection and the report."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from . import auth as auth_mod
from . import drift
from .activation import SUITE_DIR, names_the_suite
from .checks import ContractViolation
from .client import Stats, make_client
from .contract import Contract, SelectedContract, load_contract
from .contract.openapi import build_document
from .contract.routes import Routes
from .errors import EXIT_TARGET, ConformanceError, OptionError, TargetError
from .gate import Baseline, evaluate, vacuous_reasons, write_baseline
from .generation import Budget, DerivedSchema
from .known import KNOWN, known_for
from .ledger import Ledger, new_run_id, run_prefix
from .matrix import run_matrix
from .options import OPTIONS, Settings, resolve
from .profile import Prober
from .profile import profile as deployment_profile
from .provision import EmbeddedLangflow, provision, stderr_progress, terminate_like_interrupt
from .report import build as build_report
from .report import write as write_report
from .report.compare import compare, load_previous
from .report.model import warnings as report_warnings
from .reproduce import curl_of
from .requirements import KINDS, NOT_APPLICABLE, Context, Requirement, placeholders, requirements_for
from .resources import (
    SWEEP_ORDER,
    ResourceKinds,
    Resources,
    ResourceUnavailable,
    is_leftover,
    sweep,
    sweep_kind,
)
from .secrets import SECRETS, mask
from .target import LOGIN, TargetInfo, discover
from .tenants import Pair, isolation_pair, new_user

DETAILS = ("property", "reproduce", "drift")  # record_property keys (JSON) copied into report.json
FAILURE_DETAILS = ("expected", "actual", "curl")  # strings a failure carries into report.json
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
                if failures and not self.worker:
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
            stderr_progress(f"stopping the embedded Langflow {self.embedded.version}")
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

RUN = pytest.StashKey[Run]()


# The controller's Run, for pytest_runtest_logreport (which gets no config argument).
_CONTROLLER_RUN: dict[str, Run] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("langflow-conformance", "Langflow conformance (see README for exit codes)")
    for opt in OPTIONS:
        extra = [f"env {opt.env}"]
        if opt.default is not None:
            extra.append(f"default {opt.default}")
        if opt.flag_only:
            group.addoption(
                opt.flag,
                dest=opt.dest,
                action="store_const",
                const="1",
                default=None,
                help=f"{opt.help} [{'; '.join(extra)}]",
            )
            continue
        group.addoption(
            opt.flag,
            dest=opt.dest,
            default=None,
            action="append" if opt.repeatable else "store",
            metavar=opt.flag.lstrip("-").upper().replace("-", "_"),
            help=f"{opt.help} [{'; '.join(extra)}]",
        )


def _suite_requested(config: pytest.Config) -> bool:
    """Does this pytest invocation collect the conformance suite? (Not when running tests/.)"""
    return names_the_suite(config.args, bool(config.option.pyargs), config.invocation_params.dir)


def pytest_configure(config: pytest.Config) -> None:
    for kind, description in KINDS.items():
        config.addinivalue_line("markers", f"{kind}: conformance requirement kind — {description}")
    if config.option.help or not _suite_requested(config):
        return
    try:
        settings = resolve(config.getoption)
    except OptionError as exc:
        pytest.exit(exc.message, returncode=exc.exit_code)
    for secret in (settings.api_key, settings.token, settings.password, settings.peer_api_key):
        SECRETS.add(secret)
    terminate_like_interrupt()
    run = Run(settings=settings, run_id=new_run_id(), contract=load_contract())
    run.worker = hasattr(config, "workerinput")
    config.stash[RUN] = run
    if run.worker:
        return
    _CONTROLLER_RUN["run"] = run
    try:
        if settings.baseline is not None and str(settings.baseline) != KNOWN:  # `known`: read once the release is
            run.baseline = Baseline.load(settings.baseline)
        if settings.compare is not None:
            run.previous = load_previous(settings.compare)
    except OptionError as exc:
        pytest.exit(exc.message, returncode=exc.exit_code)
    if settings.is_matrix:
        code = run_matrix(settings, config)
        pytest.exit(f"matrix finished: exit {code}", returncode=code)
    run.selected_part = bool(config.option.markexpr or config.option.keyword) or any("::" in a for a in config.args)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """A suite run from the repository collects the suite only. pytest takes an option value that is
    a path (`--report-dir /abs/dir`) for the rootdir, and then testpaths no longer applies: without
    this, `pytest --report-dir /abs/dir` would also collect tests/ (which starts Langflow servers)."""
    if config.stash.get(RUN, None) is None:
        return None
    repo = SUITE_DIR.parents[1]
    if repo not in collection_path.parents:
        return None
    on_the_way = collection_path == SUITE_DIR or collection_path in SUITE_DIR.parents
    named = any(Path(config.invocation_params.dir, a.split("::")[0]).resolve() == collection_path for a in config.args)
    return None if on_the_way or SUITE_DIR in collection_path.parents or named else True


def _select_edition_option(run: Run) -> None:
    wanted = run.settings.contract_edition
    if wanted and run.contract.editions.get(wanted) is None:
        raise OptionError(
            f"--contract-edition {wanted!r} is unknown; choose one of {', '.join(run.contract.editions.ids)}"
        )


def _select_edition(run: Run) -> None:
    assert run.target is not None
    _select_edition_option(run)
    wanted = run.settings.contract_edition
    run.edition_source = "option" if wanted else "release"
    run.selected = run.contract.select(run.target.release, wanted)


def _run_scoped_api_key(run: Run) -> None:
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


def _discover(run: Run) -> None:
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
        _run_scoped_api_key(run)
    _select_edition(run)
    assert run.selected is not None
    _route_requests(run)
    off = run.embedded.features_off if run.embedded is not None else None
    with run.make_client(auth_mod.Anonymous()) as anonymous:
        prober = Prober(run.http(), anonymous, settings.mode != "read-only", run.login)
        run.target.profile = deployment_profile(prober, run.selected, run.target.config, run.target.auto_login, off)


def _route_requests(run: Run) -> None:
    """The timeout breaker learns which endpoint each request is for."""
    assert run.selected is not None and run.target is not None
    run.stats.route = Routes(run.selected.endpoints, urlsplit(run.target.url).path).match


def _dump_contract(run: Run, release: str) -> None:
    """--dump-contract FILE: the derived OpenAPI document for this release, then stop."""
    path = run.settings.dump_contract
    assert path is not None
    selected = run.contract.select(release, run.settings.contract_edition)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(build_document(selected), indent=2) + "\n")
    except OSError as exc:
        raise OptionError(f"--dump-contract {path}: cannot write it ({exc.strerror})") from None
    run.close()
    pytest.exit(
        f"wrote the contract for Langflow {release} (edition {selected.edition.id}) as OpenAPI 3.1 to {path}",
        returncode=0,
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    run = session.config.stash.get(RUN, None)
    if run is None:
        return
    workerinput = getattr(session.config, "workerinput", None)
    try:
        if run.settings.dump_contract is not None and run.settings.embedded:
            _select_edition_option(run)
            _dump_contract(run, run.settings.langflow_version)  # nothing to install or start
        if workerinput is not None and "langflow_conformance" in workerinput:
            _from_controller(run, json.loads(workerinput["langflow_conformance"]))
        else:
            _discover(run)
    except ConformanceError as exc:
        run.close()
        pytest.exit(mask(exc.message), returncode=exc.exit_code)
    assert run.target is not None and run.selected is not None
    if run.settings.dump_contract is not None:
        try:
            _dump_contract(run, run.target.release)
        except ConformanceError as exc:
            pytest.exit(exc.message, returncode=exc.exit_code)
    if run.settings.sweep:
        _sweep(run)
    if workerinput is None:
        stderr_progress(
            f"target {run.target.url}: Langflow {run.target.release}, contract edition "
            f"{run.selected.edition.id} ({run.edition_source}), auth {run.target.auth}, "
            f"mode {run.settings.mode}"
        )
        if run.settings.connection.insecure:
            stderr_progress("WARNING: --insecure: the server's TLS certificate is not verified")
        for feature, state in (run.target.profile.get("features") or {}).items():
            if state.get("on") is False:
                stderr_progress(f"feature {feature} is off here ({state['how']}); its requirements are skipped")


def _sweep(run: Run) -> None:
    """--sweep: delete earlier runs' leftovers (and only those), then stop without running tests."""
    try:
        deleted = sweep(run.resources(), progress=lambda line: stderr_progress(mask(line)))
    except (httpx.HTTPError, ResourceUnavailable) as exc:
        run.close()
        pytest.exit(mask(f"sweep stopped: {exc}"), returncode=EXIT_TARGET)
    run.close()
    pytest.exit(f"sweep: deleted {deleted} leftover resources of earlier runs", returncode=0)


def _to_workers(run: Run) -> str:
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


def _from_controller(run: Run, data: dict[str, Any]) -> None:
    run.worker = True
    run.run_id = data["run_id"]
    run.target = TargetInfo.from_dict(data["target"])
    run.auth = auth_mod.from_wire(data["auth"])
    run.edition_source = data["edition_source"]
    forced = data["edition"] if data["edition_source"] == "option" else None
    run.selected = run.contract.select(run.target.release, forced)
    _route_requests(run)
    run.ledger = Ledger(prefix=run.prefix)
    run.login = tuple(data["login"]) if data.get("login") else None  # type: ignore[assignment]
    if run.login:
        SECRETS.add(run.login[1])
    if data.get("bearer"):
        SECRETS.add(data["bearer"])
        run.cache["bearer"] = data["bearer"]


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    run = node.config.stash.get(RUN, None)
    if run is not None and run.target is not None:
        node.workerinput["langflow_conformance"] = _to_workers(run)


def _run_of(config: pytest.Config) -> Run:
    run = config.stash.get(RUN, None)
    if run is None or run.target is None:
        pytest.skip("no Langflow target: the conformance suite was not requested in this run")
    return run


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "requirement" not in metafunc.fixturenames:
        return
    markers = [m for m in metafunc.definition.iter_markers() if m.name in KINDS]
    kinds = [m.name for m in markers]
    cases = {str(a) for m in markers for a in m.args}  # @pytest.mark.auth("bearer"): only those cases
    run = metafunc.config.stash.get(RUN, None)
    reqs: list[Requirement] = []
    if run is not None and run.selected is not None and kinds:
        assert run.target is not None
        ctx = Context(
            run.selected,
            run.settings.mode,
            run.target.superuser,
            run.resource_kinds(),
            login=run.login is not None,
            bearer="bearer" in run.cache,
            profile=run.target.profile,
            peer=bool(run.settings.peer_api_key),
        )
        reqs = [r for r in requirements_for(kinds[0], ctx) if not cases or r.case in cases]
    metafunc.parametrize("requirement", reqs, ids=[r.id for r in reqs])


def pytest_deselected(items: list[pytest.Item]) -> None:
    run = _CONTROLLER_RUN.get("run")
    if run is not None and items:
        run.selected_part = True


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        req = callspec.params.get("requirement") if callspec else None
        if not isinstance(req, Requirement):
            continue
        item.user_properties.append(("requirement", req.property_json()))
        if req.endpoint.safety == "read":
            item.add_marker(pytest.mark.readonly)
        if req.skip:
            item.add_marker(pytest.mark.skip(reason=req.skip))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    run_of_item = item.config.stash.get(RUN, None)
    if call.when == "call" and run_of_item is not None and REQUESTS_AT_START in item.stash:
        # What this requirement cost the server (with what it made for itself on first use).
        report.user_properties.append(("requests", str(run_of_item.stats.requests - item.stash[REQUESTS_AT_START])))
    is_requirement = isinstance(
        getattr(item, "callspec", None) and item.callspec.params.get("requirement"), Requirement
    )
    if is_requirement and call.excinfo is not None and call.excinfo.errisinstance(ResourceUnavailable):
        # The server would not make what this requirement needs: that endpoint's own requirement
        # reports the failure; here it is a skip that says exactly what blocked it.
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0, f"Skipped: blocked: {call.excinfo.value}")
    if report.failed:
        message = _failure_message(report)
        raised = call.excinfo.value if call.excinfo is not None else None
        if isinstance(raised, httpx.TransportError):  # say which request got no answer, not just "timed out"
            with contextlib.suppress(RuntimeError):  # an httpx error raised without its request
                message = f"{raised.request.method} {raised.request.url.path}: {message} (--timeout {_timeout(item)} s)"
            report.longrepr = message  # one line: the client's traceback says nothing to the reader
        report.user_properties.append(("message", message))
        if isinstance(raised, ContractViolation):
            report.user_properties += [
                (k, mask(v)) for k, v in (("expected", raised.expected), ("actual", raised.actual)) if v
            ]
        run = item.config.stash.get(RUN, None)
        last = run.stats.last_request if run is not None else None
        recorded = dict(report.user_properties)
        if is_requirement and last is not None and "reproduce" not in recorded:  # property: its own curls
            report.user_properties.append(("curl", curl_of(last)))
    # Whatever failed, the run's secrets never reach the terminal, JUnit XML or the report.
    if report.longrepr is not None and not isinstance(report.longrepr, tuple):
        report.longrepr = mask(str(report.longrepr))
    elif isinstance(report.longrepr, tuple):
        path, line, message = report.longrepr
        report.longrepr = (path, line, mask(message))
    report.sections = [(title, mask(text)) for title, text in report.sections]


def _timeout(item: pytest.Item) -> str:
    run = item.config.stash.get(RUN, None)
    return f"{run.settings.timeout:g}" if run is not None else "?"


REQUESTS_AT_START = pytest.StashKey[int]()


def pytest_runtest_setup(item: pytest.Item) -> None:
    run = item.config.stash.get(RUN, None)
    if run is not None:
        run.stats.last_request = None  # a failure's curl command is a request of its own test
        item.stash[REQUESTS_AT_START] = run.stats.requests


def _skip_reason(report: pytest.TestReport) -> str:
    if isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    return str(report.longrepr or "")


def _failure_message(report: pytest.TestReport) -> str:
    """One line for the report: the check's own message, or the crash line of an unexpected error."""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    for prefix in ("AssertionError: ", "Failed: ", f"{ContractViolation.__module__}.ContractViolation: "):
        text = text.removeprefix(prefix)
    return mask(text.split("\nassert ")[0].strip())[:1000]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    props = dict(report.user_properties)
    if "requirement" not in props:
        return
    config_run = _CONTROLLER_RUN.get("run")
    if config_run is None:
        return
    req = json.loads(props["requirement"])
    entry = config_run.results.setdefault(req["id"], {**req, "outcome": "pass", "duration_s": 0.0})
    entry["duration_s"] = round(entry["duration_s"] + report.duration, 4)
    if "requests" in props:
        entry["requests"] = int(props["requests"])
    if report.skipped:
        reason = _skip_reason(report)
        entry["outcome"] = "not_applicable" if reason.startswith(NOT_APPLICABLE) else "skip"
        entry["reason"] = reason.removeprefix(NOT_APPLICABLE)
    elif report.failed:
        entry["outcome"] = "fail" if report.when == "call" else "error"
        entry["message"] = props.get("message", "")
    for key in DETAILS:  # what a property or drift requirement recorded (seed, curl commands, probe)
        if key in props:
            entry[key] = json.loads(props[key])
    if report.failed:
        for key in FAILURE_DETAILS:
            if props.get(key):
                entry[key] = props[key]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist: a worker's request counts and cleanup failures come back with it."""
    run = _CONTROLLER_RUN.get("run")
    output = getattr(node, "workeroutput", {}).get("langflow_conformance")
    if run is not None and output:
        run.worker_stats.append(json.loads(output))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    run = session.config.stash.get(RUN, None)
    if run is None or run.target is None or run.selected is None:
        return
    drift_section = None
    if not run.worker and any(r["kind"] == "drift" for r in run.results.values()):
        try:
            drift_section = drift.section(run.server_openapi(), run.selected, list(run.results.values()))
        except httpx.HTTPError as exc:
            drift_section = {"openapi": f"could not read {drift.OPENAPI_PATH}: {type(exc).__name__}"}
    cleanup_failures = run.close([f for w in run.worker_stats for f in w["cleanup_failures"]])
    if run.cleanup_interrupted:
        session.exitstatus = pytest.ExitCode.INTERRUPTED
    if run.worker:
        workeroutput = getattr(session.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput["langflow_conformance"] = json.dumps(
                {
                    "requests": run.stats.requests,
                    "server_seconds": run.stats.server_seconds,
                    "ok_responses": run.stats.ok_responses,
                    "waited_s": run.stats.waited_s,
                    "stalled": run.stats.stalled,
                    "cleanup_failures": run.ledger.failures if run.ledger else [],
                }
            )
        return
    workers = run.worker_stats
    header = {
        "run_id": run.run_id,
        "target": {k: v for k, v in run.target.to_dict().items()},
        "contract": {
            "edition": run.selected.edition.id,
            "edition_source": run.edition_source,
            "documents": _documents(run.selected),
            "editions_used": run.selected.editions_used(),
            "digest": run.contract.digest,
        },
        "connection": run.settings.connection.describe(run.target.url),
        "mode": run.settings.mode,
        "started_at": run.started.isoformat(),
        "duration_s": round(time.monotonic() - run.started_monotonic, 2),
        "requests": run.stats.requests + sum(w["requests"] for w in workers),
        "server_seconds": round(run.stats.server_seconds + sum(w["server_seconds"] for w in workers), 3),
        "ok_responses": run.stats.ok_responses + sum(w["ok_responses"] for w in workers),
        "workers": len(workers),
        "timeouts": _timeouts(run, workers),
        "exit_status": int(exitstatus),
        "cleanup_failures": [mask(f) for f in cleanup_failures],
        "property": {
            "seed": run.settings.seed,
            "examples": run.settings.examples,
            "time_per_requirement_s": run.settings.property_time,
        },
        **({"drift": drift_section} if drift_section is not None else {}),
    }
    run.report = build_report(header, list(run.results.values()), run.selected.endpoints)
    _gate(run, session)
    run.report_path = write_report(run.report, run.settings.report_dir / run.run_id)


def _documents(selected: SelectedContract) -> list[str]:
    """The documents of every edition that judged some endpoint of this run."""
    documents: list[str] = []
    for edition_id in selected.editions_used():
        edition = selected.contract.editions.get(edition_id)
        documents += [d for d in (edition.documents if edition else ()) if d not in documents]
    return documents


def _timeouts(run: Run, workers: list[dict[str, Any]]) -> dict[str, Any]:
    """How long the run waited on requests that timed out, and the endpoints that hung."""
    stalled = dict(run.stats.stalled)
    for w in workers:
        for endpoint, seconds in (w.get("stalled") or {}).items():
            stalled[endpoint] = max(seconds, stalled.get(endpoint, 0.0))
    waited = run.stats.waited_s + sum(w.get("waited_s", 0.0) for w in workers)
    return {"waited_s": round(waited, 1), "stalled": {k: round(v, 1) for k, v in sorted(stalled.items())}}


def mark_known_deviations(report: dict[str, Any]) -> None:
    """Every view says which failures are deviations docs/findings.md writes up for this release."""
    known = known_for(report["target"]["release"])
    for r in report["requirements"]:
        if r["outcome"] in ("fail", "error") and r["id"] in known:
            k = known[r["id"]]
            r["known_deviation"] = {"finding": k.finding, "label": k.label}


def _gate(run: Run, session: pytest.Session) -> None:
    """Comparison, baseline and gate sections; the gate's verdict becomes the exit code unless pytest
    itself ended the run otherwise (interrupted, usage error, nothing collected)."""
    report, settings = run.report, run.settings
    assert report is not None and run.selected is not None
    mark_known_deviations(report)
    if str(settings.baseline) == KNOWN:
        run.baseline = Baseline.known(run.selected.release)
    if run.previous is not None and settings.compare is not None:
        report["comparison"] = compare(report, run.previous, settings.compare)
    baseline = run.baseline
    if settings.update_baseline is not None:
        failing = [r for r in report["requirements"] if r["outcome"] in ("fail", "error")]
        written = write_baseline(settings.update_baseline, failing, run.baseline)
        report["baseline_written"] = {"path": str(settings.update_baseline), "entries": written}
        if baseline is None:  # the run is judged by the baseline it just wrote
            baseline = Baseline.load(settings.update_baseline, "--update-baseline")
    expects = run.selected.edition.expects.get(settings.mode)
    vacuous = vacuous_reasons(report, settings.max_skip_share, expects, whole_suite=not run.selected_part)
    report["gate"] = evaluate(report, baseline, settings.gate, settings.allow_stale, vacuous)
    report["gate"]["whole_suite"] = not run.selected_part
    if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        session.exitstatus = report["gate"]["exit_code"]
    report["exit_status"] = int(session.exitstatus)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    run = config.stash.get(RUN, None)
    if run is None or run.report is None:
        return
    report = run.report
    tr = terminalreporter
    tr.section("langflow conformance")
    for warning in report_warnings(report):
        tr.write_line(f"WARNING: {warning}", red=True, bold=True)
    tr.write_line(
        f"Langflow {report['target']['release']} at {report['target']['url']} · edition "
        f"{report['contract']['edition']} · mode {report['mode']} · {report['requests']} requests"
    )
    for version, s in report["summary"].items():
        if not s["total"]:
            continue
        percent = "n/a" if s["conformance_percent"] is None else f"{s['conformance_percent']}%"
        tr.write_line(
            f"  {version:<12} conformance {percent:>6}   passed {s['pass']}   failed {s['fail']}   "
            f"errors {s['error']}   SKIPPED {s['skip']}   not applicable {s['not_applicable']}",
            red=bool(s["fail"] or s["error"]),
            yellow=bool(s["skip"]) and not (s["fail"] or s["error"]),
        )
    for version, c in report.get("coverage", {}).items():
        if c["endpoints"]:
            tr.write_line(
                f"  {version:<12} endpoints {c['endpoints']}: exercised {c['exercised']} (failed {c['failed']})   "
                f"SKIPPED {c['skipped']}   not applicable {c['not_applicable']}",
                yellow=bool(c["skipped"]),
            )
    hung = report.get("timeouts") or {}
    if hung.get("stalled"):
        tr.write_line(
            f"  timeouts     waited {hung['waited_s']:.0f} s on requests that got no answer; endpoints that hung "
            f"(their other requests failed at once): {', '.join(hung['stalled'])}",
            red=True,
        )
    features = (report["target"].get("profile") or {}).get("features") or {}
    off = [f"{f} ({s['setting']})" for f, s in features.items() if s.get("on") is False]
    if off:
        tr.write_line(f"  features off on this deployment (their requirements skipped): {', '.join(off)}", yellow=True)
    if any(r["kind"] == "property" and r["outcome"] in ("pass", "fail") for r in report["requirements"]):
        p = report["property"]
        tr.write_line(f"  property     seed {p['seed']} (--seed), {p['examples']} generated requests per requirement")
    if "drift" in report:
        d = report["drift"]
        if "unknown_to_contract" not in d:
            tr.write_line(f"  drift        {d['openapi']}", yellow=True)
        else:
            unknown = sum(len(v) for v in d["unknown_to_contract"].values())
            tr.write_line(
                f"  drift        missing {len(d['documented_missing'])}   served but not listed "
                f"{len(d['documented_not_listed_but_served'])}   unknown to the contract {unknown} "
                f"in {len(d['unknown_to_contract'])} groups   type conflicts (warnings) {len(d['type_conflicts'])}",
                red=bool(d["documented_missing"]),
                yellow=bool(d["type_conflicts"]),
            )
    if "comparison" in report:
        c = report["comparison"]
        prev = c["previous"]
        tr.write_line(
            f"  compared     with {prev['run_id']} (Langflow {prev['release']}"
            f"{', release changed' if c['release_changed'] else ''}): newly failing {len(c['newly_failing'])}   "
            f"newly passing {len(c['newly_passing'])}   new endpoints {len(c['new_endpoints'])}",
            red=bool(c["newly_failing"]),
        )
    gate = report["gate"]
    baseline = f", baseline {gate['baseline']}" if gate["baseline"] else ""
    tr.write_line(
        f"  gate         {gate['verdict'].upper()} (exit {gate['exit_code']}; versions "
        f"{','.join(gate['gated_versions'])}{baseline}; baselined {len(gate['baselined'])}, "
        f"SHOULD failures {len(gate['should_failures'])})",
        red=gate["verdict"] == "fail",
        green=gate["verdict"] == "pass",
    )
    for reason in gate["reasons"]:
        tr.write_line(f"    {reason}", red=True)
    if "baseline_written" in report:
        b = report["baseline_written"]
        tr.write_line(f"  baseline     wrote {b['entries']} entries to {b['path']}")
    tr.write_line(f"report: {run.report_path} (and summary.md, report.html, junit.xml)")


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(RUN, None)
    if run is not None:
        run.close()
    _CONTROLLER_RUN.clear()


# Fixtures for the suite's tests -------------------------------------------------------------------


@pytest.fixture(scope="session")
def lf_run(request: pytest.FixtureRequest) -> Run:
    return _run_of(request.config)


@pytest.fixture(scope="session")
def lf_target(lf_run: Run) -> TargetInfo:
    assert lf_run.target is not None
    return lf_run.target


@pytest.fixture(scope="session")
def lf_contract(lf_run: Run) -> SelectedContract:
    assert lf_run.selected is not None
    return lf_run.selected


@pytest.fixture(scope="session")
def lf_client(lf_run: Run) -> httpx.Client:
    return lf_run.http()


@pytest.fixture(scope="session")
def lf_anonymous(lf_run: Run) -> Iterator[httpx.Client]:
    assert lf_run.target is not None
    with lf_run.make_client(auth_mod.Anonymous()) as client:
        yield client


@pytest.fixture(scope="session")
def lf_resources(lf_run: Run) -> Resources:
    return lf_run.resources()


@pytest.fixture(scope="session")
def lf_ledger(lf_run: Run) -> Ledger:
    assert lf_run.ledger is not None
    return lf_run.ledger
