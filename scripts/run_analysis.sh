#!/usr/bin/env bash
# Run the seed analyses (issue 9) on a scored sweep and keep their JSON next to the figures.
#   bash scripts/run_analysis.sh DIR [OUT]
# DIR: a sweep scored with `seedscope score DIR --scorers grayscale,border,sky,text,composition,world
#      --features gram` (and optionally `seedscope fid-seeds DIR --ref REF`);
# OUT: where the JSON results go (default DIR/analysis/results). Figures go to DIR/analysis/.
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: bash scripts/run_analysis.sh DIR [OUT]   (DIR: a scored sweep)" >&2
  exit 2
fi
DIR=$1
OUT=${2:-$DIR/analysis/results}
SEEDSCOPE=${SEEDSCOPE:-seedscope}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
mkdir -p "$OUT"
run() { local name=$1; shift; echo "+ seedscope $*" >&2; "$SEEDSCOPE" "$@" --json > "$OUT/$name.json"; }

# Rankings with intervals, held-out and permutation tests, consistency across prompt sets a / b.
run rank-adherent rank "$DIR" --metric world.adherent --test both
run rank-sky rank "$DIR" --metric sky.sky --higher-is-better --test both
run rank-text rank "$DIR" --metric world.p_text --higher-is-better --test both
run rank-gray rank "$DIR" --metric grayscale.grayscale --higher-is-better --test both
if ls "$DIR"/analysis/fid_by_seed-*.parquet >/dev/null 2>&1; then
  run rank-fid rank "$DIR" --metric fid --test heldout
fi
# Style and layout maps (built on set a, clusters checked on set b), composition and variance shares.
run map-style map "$DIR" --by style
run map-layout map "$DIR" --by layout
run composition composition "$DIR"
echo "results in $OUT, figures in $DIR/analysis" >&2
