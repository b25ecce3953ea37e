"""Errors a person can act on, and the exit codes they map to (documented in README)."""

from __future__ import annotations

# pytest's own codes are 0 (all passed), 1 (failures), 2 (interrupted), 4 (pytest usage error),
# 5 (nothing collected). We add 3 (target) and 6 (vacuous run) of our own.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2  # a bad value for one of our options, or credentials the server rejected
EXIT_TARGET = 3  # the server is unreachable, or is not Langflow
EXIT_VACUOUS = 6  # the run proves nothing: too many skips, no successful request, too few requirements ran


class ConformanceError(Exception):
    """A one-line problem with the run's input; `exit_code` says which."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class OptionError(ConformanceError):
    exit_code = EXIT_USAGE


class CredentialsError(ConformanceError):
    exit_code = EXIT_USAGE


class TargetError(ConformanceError):
    exit_code = EXIT_TARGET


class ProvisionError(ConformanceError):
    """The embedded Langflow could not be installed or started."""

    exit_code = EXIT_TARGET
