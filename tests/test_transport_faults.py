"""Transport faults between the suite and a real Langflow 1.13.0 (tests/faults): a reset connection, a
gateway's 502, an answer slower than --timeout, truncated JSON, an HTML page, a 10 MB body. The suite
completes; every requirement the fault touches fails with a one-line reason naming what went wrong;
the plugin itself never crashes; and the run still deletes everything it created."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import Server
from .faults.mutation import Credentials, run_suite_via, selection
from .faults.proxy import load_faults
from .snapshot import assert_untouched, snapshot

pytestmark = pytest.mark.real_langflow

TRANSPORT_FAULTS = [f for f in load_faults() if f.kind == "transport"]
# A frame of our own code in the output: a traceback the reader should never see.
OWN_FRAME = re.compile(r"conformance/[\w/]+\.py:\d+")


@pytest.mark.parametrize("fault", TRANSPORT_FAULTS, ids=[f.id for f in TRANSPORT_FAULTS])
def test_the_suite_survives_the_fault_and_cleans_up(tmp_path: Path, langflow_113_faults: Server, fault) -> None:
    server = langflow_113_faults
    assert server.api_key
    before = snapshot(server.url, server.api_key)
    credentials = Credentials(server.langflow.username, server.langflow.password, server.api_key)
    timeout = ["--timeout", "3"] if fault.action == "slow" else []
    run = run_suite_via(server.url, credentials, fault, *selection(fault), *timeout, cwd=tmp_path)
    assert run.code == 1, run.output[-3000:]
    assert "INTERNALERROR" not in run.output and "Traceback" not in run.output, run.output[-3000:]
    assert not OWN_FRAME.search(run.output), OWN_FRAME.search(run.output)
    failed = {rid: run.messages[rid] for rid, outcome in run.outcomes.items() if outcome in ("fail", "error")}
    touched = [rid for rid in failed if rid.split(".")[0] + "." + rid.split(".")[1] in fault.endpoints]
    assert touched, f"no requirement of {fault.endpoints} failed: {sorted(failed)}"
    for rid, message in failed.items():
        reason = message.splitlines()[0] if message else ""
        # The reason names the request (or the generated run) and what came back, on its first line.
        assert re.search(r"\b(GET|POST|PUT|PATCH|DELETE|HEAD)\b|generated", reason), (rid, message[:500])
        assert len(reason) < 800 and "Traceback" not in message, (rid, message[:500])
    assert run.cleanup_failures == []
    assert_untouched(server.url, server.api_key, before)
