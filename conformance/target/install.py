"""Installing a Langflow release into a cached virtualenv, as it was when it came out.

Dependencies are resolved as of a few days after the release (uv --exclude-newer): old releases break
against today's packages (1.4.3 + a current elevenlabs fails at import, notes §12). Two refinements
keep that true for every minor line from 1.0 to 1.13:
- langflow-base is pinned to the release's own (langflow 1.10.3 ships the same day as langflow-base
  0.11.0, the 1.11 backend, which its `>=0.10.3` would otherwise take);
- a package the index no longer holds as of the date (1.0.19.post2's litellm pin) may come from a
  later date, package by package, before falling back to today's versions."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

from conformance.errors import ProvisionError

Progress = Callable[[str], None]
INSTALL_TIMEOUT_S = 1800.0
EXCLUDE_NEWER_AFTER_RELEASE = dt.timedelta(days=3)
# How much later a package the date leaves unsolvable may be, tried in turn.
LATER = (dt.timedelta(days=60), dt.timedelta(days=180), dt.timedelta(days=365))
PYPI = "https://pypi.org/pypi/{project}/json"  # a project document lists every release's files
RECIPE = 2  # what an install is made of; a cached install of another recipe is made again
# uv's ways of naming a package the date leaves without a fitting version.
_UNSOLVABLE = re.compile(
    r"`([A-Za-z0-9][A-Za-z0-9._-]*)` was filtered by `exclude-newer`"
    r"|no versions? of ([A-Za-z0-9][A-Za-z0-9._-]*)"
    r"|only ([A-Za-z0-9][A-Za-z0-9._-]*)(?:<=|>=|==|<|>)"
)


def stderr_progress(message: str) -> None:
    print(f"langflow-conformance: {message}", file=sys.__stderr__, flush=True)


def cache_dir() -> Path:
    if os.environ.get("LANGFLOW_CONFORMANCE_CACHE"):
        return Path(os.environ["LANGFLOW_CONFORMANCE_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "langflow-conformance"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One installer per release at a time (matrix runs and parallel CI jobs share the cache)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _uploads(project: str) -> dict[str, str]:
    """Release -> first upload time of a PyPI project, cached beside the virtualenvs."""
    cache = cache_dir() / f"uploads-{project}.json"
    if cache.is_file():
        return dict(json.loads(cache.read_text()))
    try:
        with urllib.request.urlopen(PYPI.format(project=project), timeout=30) as response:
            releases = json.load(response).get("releases", {})
    except urllib.error.HTTPError as exc:
        raise ProvisionError(f"PyPI answered {exc.code} for {project}; try again later") from None
    except (urllib.error.URLError, TimeoutError) as exc:
        raise ProvisionError(
            f"cannot reach PyPI to look up {project} ({exc}); give --server to test a running Langflow instead"
        ) from None
    uploads = {v: min(f["upload_time_iso_8601"] for f in files) for v, files in releases.items() if files}
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(uploads, indent=1, sort_keys=True))
    return uploads


def release_date(version: str) -> dt.datetime:
    uploads = _uploads("langflow")
    if version not in uploads:
        (cache_dir() / "uploads-langflow.json").unlink(missing_ok=True)  # a release newer than the cache
        uploads = _uploads("langflow")
    if version not in uploads:
        raise ProvisionError(f"Langflow {version} is not a release on PyPI; pick another --langflow-version")
    return dt.datetime.fromisoformat(uploads[version].replace("Z", "+00:00"))


def matching_base(version: str) -> str | None:
    """The langflow-base release that is this langflow release's backend: the same number (1.12 on),
    or 0.<minor>.<patch> (1.2 to 1.11); None where the numbering differs (1.0, 1.1)."""
    parts = version.split(".", 1)
    candidates = [version, f"0.{parts[1]}"] if len(parts) == 2 else [version]
    try:
        bases = _uploads("langflow-base")
    except ProvisionError:
        return None
    return next((c for c in candidates if c in bases), None)


def uv_command(progress: Progress) -> list[str]:
    found = shutil.which("uv")
    if found:
        return [found]
    probe = subprocess.run([sys.executable, "-m", "uv", "--version"], capture_output=True)
    if probe.returncode != 0:
        progress("uv is missing: installing it with pip")
        done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "uv"], capture_output=True, text=True)
        if done.returncode != 0:
            raise ProvisionError(f"pip could not install uv: {done.stderr.strip().splitlines()[-1:]}")
    return [sys.executable, "-m", "uv"]


def _run_with_progress(cmd: list[str], log: Path, progress: Progress, what: str, timeout: float) -> None:
    started = time.monotonic()
    with open(log, "a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        stop = threading.Event()

        def tick() -> None:
            while not stop.wait(15):
                progress(f"{what}: {time.monotonic() - started:.0f} s so far (log: {log})")

        ticker = threading.Thread(target=tick, daemon=True)
        ticker.start()
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            raise ProvisionError(f"{what} took longer than {timeout:.0f} s; see {log}") from None
        except BaseException:
            process.kill()
            raise
        finally:
            stop.set()
    if code != 0:
        tail = log.read_text().strip().splitlines()[-1:] or ["(no output)"]
        raise ProvisionError(f"{what} failed ({tail[0][:200]}); full log: {log}")


def _installed(marker: Path) -> bool:
    try:
        return bool(json.loads(marker.read_text()).get("recipe") == RECIPE)
    except (OSError, ValueError):
        return False


def _stamp(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def ensure_installed(version: str, progress: Progress = stderr_progress) -> Path:
    """The release's virtualenv, installed on first use and reused afterwards."""
    venv = cache_dir() / "venvs" / version
    marker = venv / ".complete"
    if _installed(marker):
        return venv
    with _locked(cache_dir() / "venvs" / f"{version}.lock"):
        if _installed(marker):
            return venv
        cutoff = release_date(version) + EXCLUDE_NEWER_AFTER_RELEASE
        uv = uv_command(progress)
        if venv.exists():
            shutil.rmtree(venv)  # a half-finished earlier install, or one of an older recipe
        log = cache_dir() / "venvs" / f"{version}.install.log"
        log.write_text("")
        base = matching_base(version)
        progress(
            f"installing Langflow {version}{f' (langflow-base {base})' if base else ''} into {venv} "
            f"(dependencies as of {_stamp(cutoff)}; about 30-80 s with a warm uv cache, a few minutes cold)"
        )
        started = time.monotonic()
        _run_with_progress([*uv, "venv", "-q", "-p", sys.executable, str(venv)], log, progress, "a virtualenv", 120)
        wanted = [f"langflow=={version}", *([f"langflow-base=={base}"] if base else [])]
        install = [*uv, "pip", "install", "-p", str(venv / "bin" / "python"), *wanted]
        later: dict[str, int] = {}  # package -> which of LATER it may come from
        as_of = _stamp(cutoff)
        what = f"installing Langflow {version}"
        while True:
            dated = [f"--exclude-newer-package={p}={_stamp(cutoff + LATER[i])}" for p, i in later.items()]
            try:
                command = [*install, "--exclude-newer", _stamp(cutoff), *dated]
                _run_with_progress(command, log, progress, what, INSTALL_TIMEOUT_S)
                break
            except ProvisionError:
                text = log.read_text()
                if "No solution found" not in text:
                    raise
                named = _UNSOLVABLE.findall(text.rsplit("$ ", 1)[-1])
                missing = {name for groups in named for name in groups if name} - {"langflow", "langflow-base"}
                widen = {p: later.get(p, -1) + 1 for p in missing if later.get(p, -1) + 1 < len(LATER)}
                if widen:
                    later.update(widen)
                    names = ", ".join(sorted(widen))
                    progress(f"{names}: no version as of {_stamp(cutoff)} fits; allowing a later one")
                    continue
                # Nothing dated fits: today's versions, said so (they may not start: docs/findings.md).
                progress(f"dependencies of Langflow {version} do not resolve as of its date; using today's versions")
                as_of = "none (fallback: did not resolve as of the release date)"
                _run_with_progress(install, log, progress, what, INSTALL_TIMEOUT_S)
                break
        if later and not as_of.startswith("none"):
            exceptions = ", ".join(f"{p} as of {_stamp(cutoff + LATER[i])}" for p, i in sorted(later.items()))
            as_of += f", except {exceptions}"
        marker.write_text(
            json.dumps(
                {
                    "recipe": RECIPE,
                    "installed_at": dt.datetime.now(dt.UTC).isoformat(),
                    "seconds": round(time.monotonic() - started, 1),
                    "exclude_newer": as_of,
                    "langflow_base": base,
                }
            )
        )
        progress(f"installed Langflow {version} in {time.monotonic() - started:.0f} s")
    return venv
