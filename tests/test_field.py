"""Verdicts in the field: Langflow 1.13.0 as platform teams run it (PostgreSQL, Langflow's default
settings, nginx terminating TLS with a private CA under a path prefix), reached with the connection
options (--ca-bundle, --client-cert, --insecure, --header, HTTP_PROXY), and behind a gateway that
authenticates with a Bearer application token (document 003). Only written-up findings fail, a
switched-off feature is skipped by every requirement kind, and the server is left as it was."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from conformance.contract.features import OFF_PREFIX
from conformance.errors import EXIT_OK, EXIT_TARGET
from conformance.report import VIEWS
from conformance.report.known import all_known

from .conftest import REPO, Result, record_figures, run_suite
from .deployments.gateway import Gateway
from .deployments.nginx import ForwardProxy
from .deployments.stack import ProductionLike
from .snapshot import assert_untouched, snapshot, wait_for_mcp_setup
from .test_contract_reality import check_result
from .test_exit_codes import assert_one_line_error

pytestmark = pytest.mark.real_langflow
RELEASE = "1.13.0"
BASELINE = str(REPO / "ci" / "baseline.yaml")
QUICK = ("-m", "example", "-k", "base. or users.whoami")  # a few reads: enough to prove the connection works


@dataclass
class FieldRuns:
    tls: Result  # through nginx with --ca-bundle and the API key, gated on the committed baseline
    gateway: Result  # through the Bearer gateway with --token
    before: dict  # the server's snapshot before both


@pytest.fixture(scope="module")
def field_runs(
    tmp_path_factory: pytest.TempPathFactory, production_like: ProductionLike, bearer_gateway: Gateway
) -> Iterator[FieldRuns]:
    """The whole suite twice at once on the same Langflow (PostgreSQL takes concurrent writers): through
    TLS with the API key, and through the gateway with its token."""
    d, tmp = production_like, tmp_path_factory.mktemp("field")
    wait_for_mcp_setup(d.direct_url, d.api_key)
    before = snapshot(d.direct_url, d.api_key)
    tls = ["--server", d.url, "--api-key", d.api_key, "--ca-bundle", str(d.ca), "--baseline", BASELINE]
    gateway = ["--server", bearer_gateway.url, "--token", bearer_gateway.token]
    with ThreadPoolExecutor(2) as pool:
        runs = [pool.submit(run_suite, tmp / name, *args) for name, args in (("tls", tls), ("gateway", gateway))]
        tls_result, gateway_result = (r.result() for r in runs)
    yield FieldRuns(tls_result, gateway_result, before)


def failing(report: dict) -> set[str]:
    return {r["id"] for r in report["requirements"] if r["outcome"] in ("fail", "error")}


def test_production_like_gates_green_on_the_committed_baseline(field_runs: FieldRuns) -> None:
    result = field_runs.tls
    assert result.code == EXIT_OK, result.output[-3000:]
    report = check_result(result, RELEASE)
    assert report["gate"]["verdict"] == "pass" and report["connection"]["tls"], report["gate"]["reasons"]
    assert report["connection"]["ca_bundle"].startswith("--ca-bundle")
    record_figures("default suite, PostgreSQL + nginx TLS + prefix", report, report["wall_s"])


def test_production_like_leaves_the_server_as_it_was(field_runs: FieldRuns, production_like: ProductionLike) -> None:
    assert_untouched(production_like.direct_url, production_like.api_key, field_runs.before)


def test_a_switched_off_feature_is_skipped_by_every_requirement_kind(field_runs: FieldRuns) -> None:
    report = field_runs.tls.report()
    assert report["target"]["profile"]["features"]["log-retrieval"]["on"] is False
    logs = [r for r in report["requirements"] if r["group"] == "logs"]
    assert {r["kind"] for r in logs} >= {"example", "stream", "auth", "property", "drift"}
    assert all(r["outcome"] == "skip" and r["reason"].startswith(OFF_PREFIX) for r in logs), logs
    assert "LANGFLOW_ENABLE_LOG_RETRIEVAL=true" in logs[0]["reason"]
    assert not report["gate"]["vacuous"]


def test_through_a_bearer_gateway_the_verdicts_match_a_direct_run(field_runs: FieldRuns) -> None:
    gateway = check_result(field_runs.gateway, RELEASE, stale_too=False)  # the gateway hides F1, F2, F24
    direct = field_runs.tls.report()
    assert gateway["target"]["gateway"] and gateway["target"]["url"].startswith("http://127.0.0.1")
    # The key transport requirements are about a credential the deployment does not take by itself.
    transport = [r for r in gateway["requirements"] if r["case"] in ("key-in-header", "key-in-query")]
    # (Endpoints of a switched-off feature or an external service are skipped for that first.)
    refused_key = [r for r in transport if r["outcome"] == "not_applicable"]
    assert transport and all(r["outcome"] in ("not_applicable", "skip") for r in transport), transport[:2]
    assert len(refused_key) > 50 and all("instead of x-api-key" in r["reason"] for r in refused_key)
    # No credentials and a wrong token are still refused (by the gateway, before Langflow).
    refused = [r for r in gateway["requirements"] if r["case"] == "auth-required" and r["outcome"] == "pass"]
    assert len(refused) > 20
    # Behind the gateway the deployment has one identity: the users the run makes cannot log in, so
    # isolation is skipped, naming the option that brings a second user.
    isolation = [r for r in gateway["requirements"] if r["kind"] == "isolation"]
    assert isolation and all(r["outcome"] == "skip" for r in isolation)
    assert all("--peer-api-key" in r["reason"] for r in isolation if not r["reason"].startswith(OFF_PREFIX))
    may_pass = {k.id for k in all_known() if k.may_pass} | {r["id"] for r in isolation}
    # A request without the token never reaches Langflow: where Langflow itself answers anonymous
    # requests (F1 /config, F2 the deprecated /task), the deployment does not. Every other verdict is
    # the direct run's.
    hidden = {r for r in failing(direct) - failing(gateway) if r.endswith(".auth-required")}
    assert (failing(gateway) - may_pass) == (failing(direct) - may_pass - hidden)
    assert "base.config.auth-required" in hidden, hidden
    record_figures("default suite, Bearer gateway + PostgreSQL", gateway, field_runs.gateway.seconds)


def test_without_the_ca_bundle_it_exits_3_naming_the_option(tmp_path: Path, production_like: ProductionLike) -> None:
    d = production_like
    result = run_suite(tmp_path, "--server", d.url, "--api-key", d.api_key, *QUICK, timeout=120)
    assert result.code == EXIT_TARGET, result.output[-2000:]
    assert_one_line_error(result.output, "TLS", d.url, "--ca-bundle")


def test_insecure_runs_and_warns_everywhere(tmp_path: Path, production_like: ProductionLike) -> None:
    d = production_like
    result = run_suite(tmp_path, "--server", d.url, "--api-key", d.api_key, "--insecure", *QUICK, timeout=300)
    assert result.code == EXIT_OK, result.output[-2000:]
    assert "WARNING: --insecure" in result.output and "TLS verification was OFF" in result.output
    report = result.report()
    assert report["connection"]["insecure"] is True
    written = sorted(result.report_dir.glob("*/report.json"))[-1].parent
    for view in VIEWS:
        assert "TLS verification was OFF" in (written / view).read_text(), view


def test_mutual_tls_needs_the_client_certificate(tmp_path: Path, production_like: ProductionLike) -> None:
    d = production_like
    base = ["--server", d.mtls_url, "--api-key", d.api_key, "--ca-bundle", str(d.ca), *QUICK]
    without = run_suite(tmp_path / "without", *base, timeout=120)
    assert without.code == EXIT_TARGET, without.output[-2000:]
    assert_one_line_error(without.output, "--client-cert")
    cert = ["--client-cert", str(d.client_cert), "--client-key", str(d.client_key)]
    with_cert = run_suite(tmp_path / "with", *base, *cert, timeout=300)
    assert with_cert.code == EXIT_OK, with_cert.output[-2000:]
    assert with_cert.report()["connection"]["client_certificate"] == str(d.client_cert)


def test_an_access_proxy_gets_its_header_and_it_stays_secret(tmp_path: Path, production_like: ProductionLike) -> None:
    d = production_like
    name, value = d.header
    base = ["--server", d.header_url, "--api-key", d.api_key, "--ca-bundle", str(d.ca), *QUICK]
    without = run_suite(tmp_path / "without", *base, timeout=120)
    assert without.code == EXIT_TARGET, without.output[-2000:]
    assert_one_line_error(without.output, "--header")
    with_header = run_suite(tmp_path / "with", *base, "--header", f"{name}: {value}", timeout=300)
    assert with_header.code == EXIT_OK, with_header.output[-2000:]
    assert with_header.report()["connection"]["headers"] == [name]
    assert value not in with_header.output and value not in with_header.files_text()


def test_http_proxy_and_no_proxy_are_honoured(tmp_path: Path, production_like: ProductionLike) -> None:
    d = production_like
    direct = ["--server", d.direct_url, "--api-key", d.api_key, *QUICK]
    with ForwardProxy() as proxy:
        through = run_suite(tmp_path / "through", *direct, env={"HTTP_PROXY": proxy.url})
        assert through.code == EXIT_OK, through.output[-2000:]
        carried = len(proxy.carried())
        assert carried >= through.report()["requests"] > 0
        bypass = {"HTTP_PROXY": proxy.url, "NO_PROXY": "127.0.0.1"}
        around = run_suite(tmp_path / "around", *direct, env=bypass)
        assert around.code == EXIT_OK, around.output[-2000:]
        assert len(proxy.carried()) == carried
