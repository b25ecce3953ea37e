#!/usr/bin/env bash
# The action's run step: the suite with the action's inputs (INPUT_*; the URL and credentials come as
# LANGFLOW_SERVER_URL / LANGFLOW_API_KEY / LANGFLOW_TOKEN), summary.md appended to the job summary, and
# the exit code, the verdict and the report path as step outputs. It exits 0: the action's last step
# fails the job with the tool's exit code, after the report is uploaded.
set -uo pipefail
report_dir="${INPUT_REPORT_DIR:-conformance-report}"
args=(--mode "${INPUT_MODE:-read-only}" --gate "${INPUT_GATE:-v1,v2,unversioned}" --report-dir "$report_dir")
if [ -n "${INPUT_BASELINE:-}" ]; then args+=(--baseline "$INPUT_BASELINE"); fi
# Empty credentials are no credentials: unset, so the tool does not read an empty key.
for variable in LANGFLOW_API_KEY LANGFLOW_TOKEN; do
  if [ -z "${!variable:-}" ]; then unset "$variable"; fi
done
# Only a report this run wrote counts: the directory may hold an earlier run's.
started="$(mktemp)"
# shellcheck disable=SC2086 # INPUT_ARGS is a list of arguments, split on spaces on purpose
langflow-conformance "${args[@]}" ${INPUT_ARGS:-}
code=$?
report="$(find "$report_dir" -name report.json -newer "$started" 2>/dev/null | sort | tail -1 || true)"
rm -f "$started"
verdict=none
if [ -n "$report" ]; then
  verdict="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["gate"]["verdict"])' "$report" 2>/dev/null || echo none)"
  if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then cat "$(dirname "$report")/summary.md" >> "$GITHUB_STEP_SUMMARY"; fi
elif [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  echo "langflow-conformance wrote no report (exit $code): see the job log" >> "$GITHUB_STEP_SUMMARY"
fi
{
  echo "exit-code=$code"
  echo "verdict=$verdict"
  echo "report=$report"
} >> "${GITHUB_OUTPUT:-/dev/null}"
exit 0
