#!/usr/bin/env bash
# Validates the portable Sigma rules (sigma/rules) with sigma-cli and converts them to Splunk
# SPL with pySigma's Splunk backend and the project's pipeline (sigma/pipelines); fails on any
# rule error or validation issue, or when the conversion differs from sigma/converted/splunk.spl
# (regenerate it with: scripts/sigma-ci.sh --update).
#
# It makes its own Python venv from PyPI with the exact versions of sigma/requirements.txt
# (reused while the pins are unchanged; SIGMA_VENV overrides its place). Validators that
# download MITRE ATT&CK / D3FEND data (attacktag, d3_fendtag) are skipped: CI has no network
# besides the package registries. About 10 s with a warm venv.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${SIGMA_VENV:-target/sigma-venv}"
REQ=sigma/requirements.txt
if ! cmp -s "$REQ" "$VENV/.requirements" 2>/dev/null; then
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$REQ"
    "$VENV/bin/pip" check
    cp "$REQ" "$VENV/.requirements"
fi

"$VENV/bin/sigma" check --fail-on-error --fail-on-issues -x attacktag -x d3_fendtag sigma/rules

out="$(mktemp)"
trap 'rm -f "$out"' EXIT
"$VENV/bin/sigma" convert -t splunk -p sigma/pipelines/t1651_splunk.yml -o "$out" sigma/rules
if [[ "${1:-}" == "--update" ]]; then
    cp "$out" sigma/converted/splunk.spl
    echo "sigma-ci: wrote sigma/converted/splunk.spl"
elif ! diff -u sigma/converted/splunk.spl "$out"; then
    echo "sigma-ci: the Splunk conversion changed; review it and run scripts/sigma-ci.sh --update" >&2
    exit 1
fi
echo "sigma-ci: $(find sigma/rules -name '*.yml' | wc -l) rules valid and converted"
