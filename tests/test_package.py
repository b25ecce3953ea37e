"""The package, not the checkout: the wheel built and installed into a fresh virtualenv outside the
repository by the GitHub Action's own install step (ci/action/install.sh), then used from a temporary
directory: the contract and the findings travel inside it, the command and `pytest --pyargs` work,
the action's run step writes its outputs, and an unrelated project in the same environment runs
exactly as before."""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from .conftest import REPO, Installed, Server

ONE_TEST = "def test_one():\n    assert 1 + 1 == 2\n"
# A project's own --server option: installed, our plugin must not clash with it.
OWN_OPTION = "def pytest_addoption(parser):\n    parser.addoption('--server', default='x')\n"


def test_the_wheel_carries_the_contract_the_findings_and_every_subpackage(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    for needed in (
        "conformance/schemas/editions.yaml",
        "conformance/schemas/features.yaml",
        "conformance/schemas/resources.yaml",
        "conformance/schemas/catalog/flows.yaml",
        "conformance/schemas/flows/flow-read.response.json",
        "conformance/schemas/report/report.schema.json",
        "conformance/schemas/report/baseline.schema.json",
        "conformance/docs/findings.md",
        "conformance/suite/pytest.ini",
        "conformance/report/model.py",
        "conformance/contract/loader.py",
        "conformance/suite/test_isolation.py",
    ):
        assert needed in names, needed
    assert not [n for n in names if n.startswith(("tests/", "fixtures/"))]
    schemas = REPO / "schemas"
    contract = {
        f"conformance/schemas/{p.relative_to(schemas).as_posix()}"
        for p in schemas.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert contract <= names, sorted(contract - names)[:5]


def test_building_the_package_warns_of_nothing(tmp_path: Path) -> None:
    """pip shows what the build backend warns: schemas/<group>/ folders that setuptools took for
    undeclared packages once cost every `pip install` a thousand lines of warnings (setup.py)."""
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(tmp_path), str(REPO)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert not re.findall(r"\w+Warning:.*", done.stdout + done.stderr), done.stderr[:2000]


def test_version_names_the_tool_and_the_contract(installed: Installed, tmp_path: Path) -> None:
    done = installed.run(tmp_path, "langflow-conformance", "--version")
    assert done.returncode == 0 and done.stdout.startswith("langflow-conformance 0."), done.stdout


def _median_start_s(installed: Installed, project: Path, *extra: str, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        started = time.monotonic()
        done = installed.run(project, "pytest", "-q", "-p", "no:cacheprovider", *extra)
        times.append(time.monotonic() - started)
        assert done.returncode == 0, done.stdout + done.stderr
    return statistics.median(times)


def test_an_unrelated_project_runs_exactly_as_before(
    installed: Installed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "unrelated"
    project.mkdir()
    (project / "test_x.py").write_text(ONE_TEST)
    (project / "conftest.py").write_text(OWN_OPTION)
    done = installed.run(project, "pytest", "-q", "-p", "no:cacheprovider", "--server", "theirs")
    assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout + done.stderr
    assert "langflow" not in (done.stdout + done.stderr).lower()
    assert not (project / "reports").exists()
    helped = installed.run(project, "pytest", "--help")
    assert "Langflow conformance" not in helped.stdout and "--api-key" not in helped.stdout
    # What the installed plugin adds to the start of every pytest run there: its entry point only.
    with_plugin = _median_start_s(installed, project)
    without = _median_start_s(installed, project, "-p", "no:langflow_conformance")
    with capsys.disabled():
        print(
            f"\nunrelated one-test project, median of 5: {with_plugin:.3f} s with the plugin installed, "
            f"{without:.3f} s with it disabled (added {1000 * (with_plugin - without):+.0f} ms)"
        )


@pytest.mark.real_langflow
def test_the_installed_command_and_pyargs_from_anywhere(
    installed: Installed, tmp_path: Path, langflow_113: Server
) -> None:
    assert langflow_113.api_key
    target = ["--server", langflow_113.url, "--api-key", langflow_113.api_key, "--baseline", "known"]
    quick = ["-m", "example", "-k", "base. or flows."]
    done = installed.run(tmp_path, "langflow-conformance", *target, *quick, "--report-dir", "r1")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    pyargs = installed.run(
        tmp_path, "python", "-m", "pytest", "--pyargs", "conformance.suite", *target, *quick, "--report-dir", "r2"
    )
    assert pyargs.returncode == 0, pyargs.stdout[-3000:]
    for output in (done.stdout + done.stderr, pyargs.stdout + pyargs.stderr):
        assert "Warning" not in output, output[-2000:]
    assert list((tmp_path / "r1").glob("*/report.json")) and list((tmp_path / "r2").glob("*/report.json"))


@pytest.mark.real_langflow
def test_the_action_run_step_writes_its_outputs(installed: Installed, tmp_path: Path, langflow_113: Server) -> None:
    assert langflow_113.api_key
    outputs, summary = tmp_path / "github_output", tmp_path / "step_summary"
    env = {
        "LANGFLOW_SERVER_URL": langflow_113.url,
        "LANGFLOW_API_KEY": langflow_113.api_key,
        "LANGFLOW_TOKEN": "",
        "INPUT_MODE": "read-only",
        "INPUT_BASELINE": "known",
        "INPUT_GATE": "v1,v2,unversioned",
        "INPUT_REPORT_DIR": "conformance-report",
        "INPUT_ARGS": "-m example -k base.",
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    done = installed.run(tmp_path, "bash", str(REPO / "ci" / "action" / "run.sh"), env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    written = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    assert written["exit-code"] == "0" and written["verdict"] == "pass", written
    assert Path(tmp_path, written["report"]).is_file()
    assert summary.read_text().startswith("# Langflow conformance")
    # A wrong key: the tool's exit code 2, and the step still ends 0 for the upload step to run.
    outputs.write_text("")
    env["LANGFLOW_API_KEY"] = "sk-wrong-0000"
    refused = installed.run(tmp_path, "bash", str(REPO / "ci" / "action" / "run.sh"), env=env)
    assert refused.returncode == 0
    written = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    assert written["exit-code"] == "2" and written["verdict"] == "none", written
    assert "sk-wrong-0000" not in refused.stdout + refused.stderr


def test_the_installed_package_finds_its_contract_without_the_repository(installed: Installed, tmp_path: Path) -> None:
    code = "from conformance.contract import contract_root; print(contract_root())"
    done = installed.run(tmp_path, "python", "-c", code, env={"LANGFLOW_CONFORMANCE_CONTRACT": ""})
    root = Path(done.stdout.strip())
    assert done.returncode == 0 and root.is_dir() and REPO not in root.parents, done.stdout + done.stderr
    assert os.fspath(installed.venv) in os.fspath(root)
