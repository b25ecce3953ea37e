"""Option parsing: command line over environment over defaults, and one-line errors naming the option."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.errors import EXIT_USAGE, OptionError
from conformance.run.options import DEFAULT_LANGFLOW_VERSION, OPTIONS, resolve


def getter(**cli: str):
    values = {opt.dest: None for opt in OPTIONS}
    values.update({"lfc_" + k: v for k, v in cli.items()})
    return values.get


def test_defaults_without_anything() -> None:
    s = resolve(getter(), environ={})
    assert s.embedded and s.server is None
    assert (s.mode, s.auth_in, s.timeout, s.report_dir) == ("isolated", "header", 30.0, Path("reports"))
    assert s.langflow_version == DEFAULT_LANGFLOW_VERSION


def test_every_option_has_an_environment_variable() -> None:
    environ = {
        "LANGFLOW_SERVER_URL": "http://h:1/",
        "LANGFLOW_API_KEY": "sk-env",
        "LANGFLOW_AUTH_IN": "query",
        "LANGFLOW_CONFORMANCE_MODE": "read-only",
        "LANGFLOW_CONFORMANCE_REPORT_DIR": "out",
        "LANGFLOW_CONFORMANCE_EDITION": "1.1",
        "LANGFLOW_CONFORMANCE_TIMEOUT": "5",
    }
    s = resolve(getter(), environ=environ)
    assert (s.server, s.api_key, s.auth_in, s.mode) == ("http://h:1", "sk-env", "query", "read-only")
    assert (s.report_dir, s.contract_edition, s.timeout) == (Path("out"), "1.1", 5.0)
    assert s.sources["--api-key"] == "$LANGFLOW_API_KEY"
    assert len({o.env for o in OPTIONS}) == len(OPTIONS)


def test_command_line_wins_over_environment() -> None:
    s = resolve(
        getter(server="http://cli:2", mode="full"),
        environ={"LANGFLOW_SERVER_URL": "http://env:1", "LANGFLOW_CONFORMANCE_MODE": "read-only"},
    )
    assert (s.server, s.mode) == ("http://cli:2", "full")


@pytest.mark.parametrize(
    ("cli", "environ", "mentions"),
    [
        ({"mode": "yolo"}, {}, "--mode must be one of read-only, isolated, full"),
        ({}, {"LANGFLOW_CONFORMANCE_MODE": "yolo"}, "$LANGFLOW_CONFORMANCE_MODE"),
        ({"auth_in": "cookie"}, {}, "--auth-in"),
        ({"timeout": "soon"}, {}, "--timeout"),
        ({"timeout": "0"}, {}, "--timeout"),
        ({"server": "localhost:7860"}, {}, "--server 'localhost:7860' is not an http(s) URL"),
        ({"server": "http://h", "username": "u"}, {}, "--username and --password go together"),
        ({"server": "http://h", "api_key": "k", "token": "t"}, {}, "one kind of credentials"),
        ({"api_key": "k"}, {}, "--api-key needs --server"),
        ({"server": "http://h", "langflow_version": "1.7.3"}, {}, "cannot be used with --server"),
        ({"langflow_version": "latest"}, {}, "is not a release number"),
    ],
)
def test_bad_values_are_one_line_usage_errors(cli: dict, environ: dict, mentions: str) -> None:
    with pytest.raises(OptionError) as caught:
        resolve(getter(**cli), environ=environ)
    assert mentions in caught.value.message
    assert "\n" not in caught.value.message
    assert caught.value.exit_code == EXIT_USAGE


def test_the_readme_option_table_is_the_option_table() -> None:
    from tools.readme_options import README, current, table

    assert current(README.read_text()) == table(), "README's option table is stale: python -m tools.readme_options"
