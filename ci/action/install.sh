#!/usr/bin/env bash
# The action's install step: build this checkout's wheel and install it into a fresh virtualenv under
# $RUNNER_TEMP, then put that virtualenv's bin/ on the job's PATH ($GITHUB_PATH). Run by the action, and
# by tests/test_package.py with RUNNER_TEMP and GITHUB_PATH pointing at temporary files.
set -euo pipefail
source_dir="$(cd "$(dirname "$0")/../.." && pwd)"
work="${RUNNER_TEMP:?RUNNER_TEMP is not set}/langflow-conformance"
python="${PYTHON:-python3}"
rm -rf "$work" && mkdir -p "$work/dist"
if command -v uv >/dev/null 2>&1; then
  uv build --quiet --wheel --out-dir "$work/dist" "$source_dir"
  uv venv --quiet --python "$python" "$work/venv"
  uv pip install --quiet --python "$work/venv/bin/python" "$work"/dist/*.whl
else
  "$python" -m pip wheel --quiet --no-deps --wheel-dir "$work/dist" "$source_dir"
  "$python" -m venv "$work/venv"
  "$work/venv/bin/python" -m pip install --quiet "$work"/dist/*.whl
fi
echo "$work/venv/bin" >> "${GITHUB_PATH:?GITHUB_PATH is not set}"
"$work/venv/bin/langflow-conformance" --version
