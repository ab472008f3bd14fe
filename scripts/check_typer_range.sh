#!/usr/bin/env bash
# Rerun the command-line usage tests on other typer versions: check_typer_range.sh 0.19.2 0.29.2 ...
# Each version goes into a throwaway venv (/tmp) that takes everything else from ./.venv (or $VENV).
# Exits 1 if some version could not be installed or failed a test (CI runs it on the oldest).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${VENV:-.venv}/bin/python
SITE=$("$PY" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
failed=0
for version in "$@"; do
  venv=$(mktemp -d /tmp/seedscope-typer-XXXX)
  "$PY" -m venv --without-pip "$venv"
  "$PY" -m pip --python "$venv/bin/python" install -q "typer==$version" >/dev/null 2>&1 \
    || { echo "typer $version: could not install"; rm -rf "$venv"; failed=1; continue; }
  venv_site=$("$venv/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
  echo "$SITE" >"$venv_site/zz_seedscope_deps.pth" # after the venv's own typer and click
  printf '#!%s\nfrom seedscope.cli import main\nmain()\n' "$venv/bin/python" >"$venv/bin/seedscope"
  chmod +x "$venv/bin/seedscope"
  click=$("$venv/bin/python" -c "import importlib.metadata as m; print(m.version('click'))")
  log=$(PYTHONPATH="$ROOT/src" OMP_NUM_THREADS=1 "$venv/bin/python" -m pytest \
    tests/test_cli_usage.py -q -p no:cacheprovider 2>&1)
  rc=$?
  echo "typer $version (click $click): $(tail -1 <<<"$log")"
  if [ "$rc" != 0 ]; then
    failed=1
    echo "$log" | tail -40
  fi
  rm -rf "$venv"
done
exit "$failed"
