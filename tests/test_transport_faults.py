"""Transport faults between the suite and a real Langflow 1.13.0 (tests/faults): a reset connection, a
gateway's 502, an answer slower than --timeout, truncated JSON, an HTML page, a 10 MB body. The suite
completes; every requirement the fault touches fails with a one-line reason naming what went wrong;
the plugin itself never crashes; the run still deletes everything it created; and none of its
secrets (API key, password, Bearer token, the tokens the server issued it) is in its output or files.
The runs take turns with the three ways to authenticate."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import Server
from .faults.mutation import Credentials, bearer_token, run_suite_via, selection
from .faults.proxy import load_faults
from .snapshot import assert_untouched, snapshot

pytestmark = pytest.mark.real_langflow

TRANSPORT_FAULTS = [f for f in load_faults() if f.kind == "transport"]
# A frame of our own code in the output: a traceback the reader should never see.
OWN_FRAME = re.compile(r"conformance/[\w/]+\.py:\d+")
AUTH = ["login", "api-key", "token"]


@pytest.mark.parametrize("fault", TRANSPORT_FAULTS, ids=[f.id for f in TRANSPORT_FAULTS])
def test_the_suite_survives_the_fault_and_cleans_up(tmp_path: Path, langflow_113_faults: Server, fault) -> None:
    server = langflow_113_faults
    assert server.api_key
    before = snapshot(server.url, server.api_key)
    credentials = Credentials(server.langflow.username, server.langflow.password, server.api_key)
    timeout = ["--timeout", "3"] if fault.action == "slow" else []
    secrets = credentials.secrets()
    auth = AUTH[TRANSPORT_FAULTS.index(fault) % len(AUTH)]
    if auth == "token":
        secrets["Bearer token"] = bearer_token(server.url, credentials.username, credentials.password)
    options = credentials.as_(auth, secrets.get("Bearer token", ""))
    run = run_suite_via(server.url, credentials, fault, *selection(fault), *timeout, cwd=tmp_path, auth=options)
    assert run.code == 1, run.output[-3000:]
    assert "INTERNALERROR" not in run.output and "Traceback" not in run.output, run.output[-3000:]
    assert not OWN_FRAME.search(run.output), OWN_FRAME.search(run.output)
    failed = {rid: run.messages[rid] for rid, outcome in run.outcomes.items() if outcome in ("fail", "error")}
    touched = [rid for rid in failed if rid.split(".")[0] + "." + rid.split(".")[1] in fault.endpoints]
    assert touched, f"no requirement of {fault.endpoints} failed: {sorted(failed)}"
    # Only a slow answer reads as unanswered (test_mutation's clean run leaves out that, and nothing else).
    assert {rid: run.unanswered(rid) for rid in touched} == {rid: fault.action == "slow" for rid in touched}
    for rid, message in failed.items():
        reason = message.splitlines()[0] if message else ""
        # The reason names the request (or the generated run) and what came back, on its first line.
        assert re.search(r"\b(GET|POST|PUT|PATCH|DELETE|HEAD)\b|generated", reason), (rid, message[:500])
        assert len(reason) < 800 and "Traceback" not in message, (rid, message[:500])
    assert run.cleanup_failures == []
    assert "<testsuite" in run.files_text  # junit.xml is among the files searched
    assert not run.leaks(secrets), f"{auth} run: secrets in its output or report files: {run.leaks(secrets)}"
    assert_untouched(server.url, server.api_key, before)
