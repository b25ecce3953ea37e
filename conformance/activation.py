"""The pytest11 entry point. Installed with the package, it is loaded by every pytest run in that
environment, so it does nothing unless the run asks for the conformance suite (`--pyargs
conformance.suite`, a path into it, the `langflow-conformance` command, or a checkout whose testpaths
point at it): only then does it load the plugin (conformance.run.plugin), whose options, imports and
reports an unrelated project never sees. It imports nothing heavier than the option table."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

from conformance.run.options import OPTIONS

PLUGIN = "conformance.run.plugin"
SUITE_MODULE = "conformance.suite"
SUITE_DIR = Path(__file__).parent / "suite"


def names_the_suite(args: Iterable[str], pyargs: bool, invocation_dir: Path) -> bool:
    """Does one of these test arguments (paths, node ids, --pyargs module names) point at the suite?"""
    for arg in args:
        target = str(arg).split("::")[0]
        if pyargs and (target == "conformance" or target == SUITE_MODULE or target.startswith(SUITE_MODULE + ".")):
            return True
        path = Path(invocation_dir, target).resolve()
        if path == SUITE_DIR or SUITE_DIR in path.parents or path in SUITE_DIR.parents:
            return True
    return False


def without_own_options(args: list[str]) -> list[str]:
    """The command line without this plugin's options and their values: before the plugin is loaded
    pytest does not know them, and would take `--server URL` or `--report-dir DIR` for test paths."""
    valued = {o.flag for o in OPTIONS if not o.flag_only}
    flags = {o.flag for o in OPTIONS if o.flag_only}
    out: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in valued:
            skip = True
        elif arg in flags or arg.split("=", 1)[0] in valued:
            continue
        else:
            out.append(arg)
    return out


def requested(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> bool:
    known = parser.parse_known_args(without_own_options([str(a) for a in args]))
    invocation_dir = early_config.invocation_params.dir
    given = [str(a) for a in known.file_or_dir or []]
    if given:
        return names_the_suite(given, bool(known.pyargs), invocation_dir)
    if invocation_dir != early_config.rootpath:
        return False
    testpaths = early_config.getini("testpaths") or []
    return names_the_suite([str(Path(early_config.rootpath, p)) for p in testpaths], False, invocation_dir)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    # Before pytest parses the whole command line: the plugin's options exist in time to be parsed.
    if early_config.pluginmanager.get_plugin(PLUGIN) is None and requested(early_config, parser, args):
        early_config.pluginmanager.import_plugin(PLUGIN)
