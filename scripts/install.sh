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
# pip's output goes to a log, shown only when the install fails: a newcomer's
# `make run` should not scroll hundreds of lines of resolver chatter and
# machine-specific warnings (an index location that does not exist, say) past.
"$PYTHON" -m venv "$venv"
log="$venv/install.log"
echo "Installing ResiMply into $venv (about a minute the first time; pip's log: $log)" >&2
pip_install() {
  if ! "$venv/bin/pip" install --disable-pip-version-check "$@" >>"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "install failed: pip install $* (the whole log is $log)" >&2
    exit 1
  fi
}
: >"$log"
pip_install --upgrade pip
if [ "$mode" = --dev ]; then
  pip_install -e '.[dev]'
  # bench.ingredients' reference parser needs an NLTK tagger that it would
  # otherwise download at run time: built here from a PyPI package instead.
  if ! "$venv/bin/python" scripts/nltk_tagger.py "$venv" >>"$log" 2>&1; then
    tail -n 20 "$log" >&2
    echo "install failed: scripts/nltk_tagger.py $venv (the whole log is $log)" >&2
    exit 1
  fi
else
  pip_install --no-cache-dir '.[ocr]'
fi
# The entry points the image runs must start.
"$venv/bin/resimply" --version >/dev/null
"$venv/bin/arq" --version >/dev/null
# On-screen text: the engine imports and its models came with the wheel (nothing
# is downloaded at run time).
"$venv/bin/python" -c 'from resimply.media import ocr; assert ocr.available(); ocr.model_paths()'
