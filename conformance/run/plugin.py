"""The pytest plugin (loaded by conformance.activation): its hooks — options, the run's start before any
test, requirement parametrization, outcome collection, the run's end — and the suite's fixtures."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance.activation import SUITE_DIR, names_the_suite
from conformance.contract import SelectedContract, load_contract
from conformance.contract.openapi import build_document
from conformance.errors import EXIT_TARGET, ConformanceError, OptionError
from conformance.report.compare import load_previous
from conformance.report.gate import Baseline
from conformance.report.known import KNOWN
from conformance.report.reproduce import curl_of
from conformance.report.terminal import write_summary
from conformance.requirements import drift
from conformance.requirements.checks import ContractViolation
from conformance.requirements.derive import KINDS, NOT_APPLICABLE, Context, Requirement, requirements_for
from conformance.run.finish import finish
from conformance.run.kinds import ResourceUnavailable
from conformance.run.ledger import Ledger, new_run_id
from conformance.run.matrix import run_matrix
from conformance.run.options import OPTIONS, resolve
from conformance.run.resources import Resources
from conformance.run.session import (
    Run,
    discover_target,
    from_controller,
    select_edition_option,
    to_workers,
)
from conformance.run.sweep import sweep
from conformance.target import auth as auth_mod
from conformance.target.discovery import TargetInfo
from conformance.target.provision import stderr_progress, terminate_like_interrupt
from conformance.target.secrets import SECRETS, mask

DETAILS = ("property", "reproduce", "drift")  # record_property keys (JSON) copied into report.json
FAILURE_DETAILS = ("expected", "actual", "curl")  # strings a failure carries into report.json


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
            select_edition_option(run)
            _dump_contract(run, run.settings.langflow_version)  # nothing to install or start
        if workerinput is not None and "langflow_conformance" in workerinput:
            from_controller(run, json.loads(workerinput["langflow_conformance"]))
        else:
            discover_target(run)
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


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    run = node.config.stash.get(RUN, None)
    if run is not None and run.target is not None:
        node.workerinput["langflow_conformance"] = to_workers(run)


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
    if call.when == "call" and run_of_item is not None and COST_AT_START in item.stash:
        # What this requirement cost the server (with what it made for itself on first use).
        requests, server_s = item.stash[COST_AT_START]
        stats = run_of_item.stats
        report.user_properties.append(("requests", str(stats.requests - requests)))
        report.user_properties.append(("server_s", f"{stats.server_seconds - server_s:.4f}"))
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


COST_AT_START = pytest.StashKey[tuple[int, float]]()  # requests and server seconds before the test


def pytest_runtest_setup(item: pytest.Item) -> None:
    run = item.config.stash.get(RUN, None)
    if run is not None:
        run.stats.last_request = None  # a failure's curl command is a request of its own test
        item.stash[COST_AT_START] = (run.stats.requests, run.stats.server_seconds)


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
        entry["server_s"] = float(props["server_s"])
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
    finish(run, session, exitstatus, cleanup_failures, drift_section)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    run = config.stash.get(RUN, None)
    if run is None or run.report is None:
        return
    write_summary(terminalreporter, run.report, run.report_path)


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
