"""`langflow-conformance`: the suite as a command. The same run as `pytest --pyargs conformance.suite`,
with the same options and exit codes; any pytest argument passes through (-k, -m, -n 2, -x ...).

It runs apart from the directory it is started in: no pytest configuration of that directory (a
project's own pytest.ini, addopts, testpaths) applies, and no .pytest_cache is written there."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

from conformance import __version__
from conformance.run.options import OPTIONS

USAGE = "usage: langflow-conformance [--server URL] [--api-key KEY | --token T | --username U --password P] [options]"
ENTRY_POINT = "langflow_conformance"  # pyproject.toml [project.entry-points.pytest11]
EXIT_CODES = (
    "exit codes: 0 gate passed · 1 gate failed · 2 bad option, rejected credentials or interrupted · "
    "3 server unreachable / not Langflow / embedded Langflow could not start · 4 pytest usage error · "
    "5 nothing collected · 6 vacuous run"
)


def version_line() -> str:
    from conformance.contract import load_contract  # only for --version: reads the contract to name its digest

    contract = load_contract()
    editions = ", ".join(contract.editions.ids)
    return f"langflow-conformance {__version__} (contract {contract.digest[:12]}, editions {editions})"


def help_text() -> str:
    lines = [USAGE, "", "Check a Langflow deployment against the documented Langflow API.", "", "options:"]
    for opt in OPTIONS:
        value = "" if opt.flag_only else " " + opt.flag.lstrip("-").upper().replace("-", "_")
        default = f" [default {opt.default}]" if opt.default is not None else ""
        lines.append(f"  {opt.flag}{value}")
        lines += textwrap.wrap(
            f"{opt.help}{default} (env {opt.env})", 100, initial_indent=" " * 6, subsequent_indent=" " * 6
        )
    lines += [
        "  --version",
        "      Print the tool's version and the contract's digest.",
        "",
        EXIT_CODES,
        "",
        "Every pytest option is accepted too (-k EXPR, -m MARKERS, -n WORKERS with pytest-xdist, -x, -q, -v ...);",
        "pytest's own list follows.",
        "",
    ]
    return "\n".join(lines)


def pytest_args(argv: list[str]) -> list[str]:
    """The pytest command line for a run: the suite by module name, this package's plugin, and a
    configuration of its own (an empty one) instead of whatever the current directory holds."""
    config = Path(__file__).parent / "suite" / "pytest.ini"
    return [
        # By its entry-point name: loaded even where plugin autoloading is off, and never twice.
        "-p",
        ENTRY_POINT,
        "-p",
        "no:cacheprovider",
        "-c",
        str(config),
        "--rootdir",
        os.getcwd(),
        "--pyargs",
        "conformance.suite",
        *argv,
    ]


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--version" in args:
        print(version_line())
        return 0
    import pytest

    if "-h" in args or "--help" in args:
        try:
            print(help_text(), flush=True)
        except BrokenPipeError:  # `| head`: the reader has seen enough
            return 0
    return int(pytest.main(pytest_args(args)))


if __name__ == "__main__":
    sys.exit(main())
