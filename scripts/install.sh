#!/usr/bin/env bash
# Install ResiMply into a virtualenv. The one install command: `make install`
# (and so CI) and the Docker image both run it, so a broken install fails CI.
#
#   scripts/install.sh VENV          the runtime (what the image ships), with the
#                                    `ocr` extra (on-screen text, docs/ocr.md)
#   scripts/install.sh VENV --dev    editable, with test and lint tools (make, CI;
#                                    the dev extra includes the ocr one)
set -euo pipefail
usage="usage: scripts/install.sh VENV [--dev]"
venv="${1:?$usage}"
mode="${2:-}"
case "$mode" in "" | --dev) ;; *) echo "$usage" >&2; exit 2 ;; esac
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "ResiMply needs Python 3.11 or newer (found $("$PYTHON" --version 2>&1))." >&2
  exit 1
}
"$PYTHON" -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
if [ "$mode" = --dev ]; then
  "$venv/bin/pip" install --quiet -e '.[dev]'
else
  "$venv/bin/pip" install --quiet --no-cache-dir '.[ocr]'
fi
# The entry points the image runs must start.
"$venv/bin/resimply" --version >/dev/null
"$venv/bin/arq" --version >/dev/null
# On-screen text: the engine imports and its models came with the wheel (nothing
# is downloaded at run time).
"$venv/bin/python" -c 'from resimply.media import ocr; assert ocr.available(); ocr.model_paths()'
