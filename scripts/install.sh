#!/usr/bin/env bash
# Install ResiMply into a virtualenv. The one install command: `make install`
# (and so CI) and the Docker image both run it, so a broken install fails CI.
#
#   scripts/install.sh VENV          the runtime (what the image ships)
#   scripts/install.sh VENV --dev    editable, with test and lint tools (make, CI)
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
  # bench.ingredients' reference parser needs an NLTK tagger that it would
  # otherwise download at run time: built here from a PyPI package instead.
  "$venv/bin/python" scripts/nltk_tagger.py "$venv"
else
  "$venv/bin/pip" install --quiet --no-cache-dir .
fi
# The entry points the image runs must start.
"$venv/bin/resimply" --version >/dev/null
"$venv/bin/arq" --version >/dev/null
