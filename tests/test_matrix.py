"""The matrix: several targets in one command (repeated --server, or --matrix of embedded releases),
run side by side, combined into matrix.json / matrix.md / matrix.html."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.errors import EXIT_FAILED, EXIT_USAGE

from .conftest import Server, assert_valid_report, run_suite

SELECT = "base.version.example or base.config.auth-required"  # the second fails on 1.13.0 only (F1)


def matrix_of(result_dir: Path) -> tuple[Path, dict]:
    found = sorted(result_dir.glob("matrix-*/matrix.json"))
    assert found, f"no matrix.json under {result_dir}"
    return found[-1].parent, json.loads(found[-1].read_text())


@pytest.mark.real_langflow
def test_matrix_of_two_deployments(tmp_path: Path, langflow_113: Server, langflow_173_webhook_auth: Server) -> None:
    keys = [langflow_113.api_key, langflow_173_webhook_auth.api_key]
    assert all(keys)
    result = run_suite(
        tmp_path,
        "--server", langflow_113.url, "--server", langflow_173_webhook_auth.url,
        "--api-key", str(keys[0]), "--api-key", str(keys[1]),
        "-k", SELECT,
    )  # fmt: skip
    assert result.code == EXIT_FAILED, result.output[-3000:]  # the highest target exit code
    directory, matrix = matrix_of(tmp_path / "reports")
    by_release = {t["release"]: t for t in matrix["targets"]}
    assert set(by_release) == {"1.13.0", "1.7.3"}
    assert (by_release["1.13.0"]["exit_code"], by_release["1.7.3"]["exit_code"]) == (1, 0)
    assert by_release["1.13.0"]["versions"]["v1"]["conformance_percent"] == 50.0
    assert by_release["1.7.3"]["groups"]["v1"]["base"]["conformance_percent"] == 100.0
    for t in matrix["targets"]:
        report_path = directory / t["report"]
        assert_valid_report(json.loads(report_path.read_text()))
        assert {p.name for p in report_path.parent.iterdir()} >= {
            "report.json",
            "summary.md",
            "report.html",
            "junit.xml",
        }
    md, page = (directory / "matrix.md").read_text(), (directory / "matrix.html").read_text()
    assert "| 1.13.0 | 1.13.0 | 1.12 | FAIL | 1 | 50.0% (1 failed)" in md.replace(
        langflow_113.url.split("//")[1], "1.13.0"
    )
    assert page.count("<tr>") >= 3 and "http" not in page.split("<body>")[0]
    everything = result.output + "".join(p.read_text(errors="replace") for p in directory.rglob("*") if p.is_file())
    assert not [k for k in keys if k and k in everything], "an API key reached the matrix output"


@pytest.mark.real_langflow
def test_matrix_of_embedded_releases(tmp_path: Path) -> None:
    result = run_suite(tmp_path, "--matrix", "1.13.0,1.7.3", "-k", SELECT, timeout=900)
    assert result.code == EXIT_FAILED, result.output[-3000:]
    _, matrix = matrix_of(tmp_path / "reports")
    assert [(t["label"], t["release"], t["exit_code"]) for t in matrix["targets"]] == [
        ("1.13.0", "1.13.0", 1),
        ("1.7.3", "1.7.3", 0),
    ]
    assert "matrix: started 1.13.0" in result.output and "matrix: 1.7.3 finished" in result.output


def test_matrix_option_errors(tmp_path: Path) -> None:
    for args, message in [
        (["--server", "http://a:1", "--server", "http://b:1", "--api-key", "k1", "--api-key", "k2", "--api-key", "k3"],
         "2 --server values and 3 --api-key values"),
        (["--matrix", "1.13.0", "--server", "http://a:1"], "--matrix runs embedded releases"),
        (["--matrix", "1.13.0,latest"], "'latest' is not a release number"),
    ]:  # fmt: skip
        result = run_suite(tmp_path, *args)
        assert result.code == EXIT_USAGE, result.output[-1000:]
        assert message in result.output
