#!/usr/bin/env bash
# The README's analysis section on the bundled world model, end to end from nothing:
# prompts -> sweep -> score -> real reference images -> per-seed FID -> rank, map, composition.
# Usage: bash scripts/analysis_world.sh WORKDIR   (64 prompts, sets a/b 32/32, x 64 seeds = 4,096 images)
# Results: WORKDIR/w64/analysis/ (tables, figures) and WORKDIR/w64/analysis/results/*.json.
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: bash scripts/analysis_world.sh WORKDIR" >&2
  exit 2
fi
W=$1
S=${SEEDSCOPE:-seedscope}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$W"
$S world prompts --n 64 --seed 0 --sets a,b --out "$W/p64.csv"
$S sweep --model world --prompts "$W/p64.csv" --seeds 0-63 --out "$W/w64" --batch-size 32 --quiet
$S score "$W/w64" --scorers grayscale,border,sky,composition,world --features world,gram
$S world render --prompts "$W/p64.csv" --out "$W/real" --per-prompt 8
$S fid-seeds "$W/w64" --ref "$W/real" --extractor world
SEEDSCOPE=$S bash "$HERE/run_analysis.sh" "$W/w64"
