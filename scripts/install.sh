#!/usr/bin/env bash
# Install seedscope and everything it needs into ./.venv (CPU PyTorch where there is no GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
if ! python -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1; then
    python -m pip install -q torch
  else
    # The CPU wheel; a plain `torch` would pull a multi-GB CUDA build.
    python -m pip install -q torch==2.13.0
  fi
fi
python -m pip install -q -e ".[dev]"
echo "seedscope installed in $(pwd)/.venv"
