#!/usr/bin/env bash
# The README's pick and inpaint-audit figures on the bundled world model, end to end.
# Usage: bash scripts/pick_world.sh [WORKDIR]   (about 2,000 images; ~10 min on 2 free cores)
set -euo pipefail
W=${1:-runs/pick-world}
S=${SEEDSCOPE:-seedscope}
mkdir -p "$W"
$S world prompts --n 128 --seed 0 --sets a,b --out "$W/prompts128.csv"
head -33 "$W/prompts128.csv" > "$W/prompts32.csv"          # prompts 0-31: set a 14, set b 18
$S sweep --model world --prompts "$W/prompts32.csv" --seeds 0-63 --out "$W/sweep" --batch-size 32 --quiet
$S score "$W/sweep" --scorers world --features world
$S world render --prompts "$W/prompts32.csv" --out "$W/real" --per-prompt 8
$S fid-seeds "$W/sweep" --ref "$W/real" --extractor world
# Table 1: golden pool chosen on set a, compared on set b.
$S pick golden "$W/sweep" --top 16 --quality kid --preference world.adherent --set a --out "$W/golden.json"
$S pick compare "$W/golden.json" "$W/sweep" --set b \
  --metrics world.adherent,world.category_match,world.colour_match,world.p_text,world.p_sky,world.p_grayscale
# Table 2: diverse seeds (style: world features; layout: object position and size).
for by in style layout; do
  $S pick diverse "$W/sweep" --per-prompt 4 --by $by --features world --set a --out "$W/diverse-$by.json"
  $S pick compare "$W/diverse-$by.json" "$W/sweep" --set b
done
$S card verify "$W/golden.json" --model world
printf "a red star\na blue house on grass\n" > "$W/two.txt"
$S generate --card "$W/golden.json" --prompts "$W/two.txt" --out "$W/generated" --per-prompt 2 --quiet
# Inpainting audit: 12 world pairs x 16 seeds x (removal, completion).
$S world pairs --n 12 --seed 0 --out "$W/pairs"
$S inpaint-audit --pairs "$W/pairs" --out "$W/audit" --seeds 0-15 --ocr detected --batch-size 16
