#!/usr/bin/env bash
# make demo: the whole pipeline, end to end, on the embedded replica archive, each stage timed.
# Everything it writes lands under data/ and runs/demo/ (both ignored by git), library caches included.
set -euo pipefail
cd "$(dirname "$0")/.."

RECORDS=${DEMO_RECORDS:-2000}
EPOCHS=${DEMO_EPOCHS:-8}
DATA=data/demo
RUN=runs/demo/lite0-20y
HEAD=runs/demo/lite0-head-20y
DB="sqlite:///$DATA/archive.db"
export FOTOFECHA_DB="$DB"
# Libraries' caches (matplotlib's font list, torch/timm/hub) stay inside data/ too.
export MPLCONFIGDIR="$PWD/data/cache/matplotlib" XDG_CACHE_HOME="$PWD/data/cache" \
    TORCH_HOME="$PWD/data/cache/torch" HF_HOME="$PWD/data/cache/huggingface"

rm -rf "$DATA" "$RUN" "$HEAD"
mkdir -p "$DATA" runs/demo

declare -a TIMES=()
stage() {
    local name=$1; shift
    printf '\n=== %s ===\n$ %s\n' "$name" "$*"
    local t0=$SECONDS
    "$@"
    TIMES+=("$(printf '%-16s %5ds' "$name" $((SECONDS - t0)))")
}

python cli.py replica --records "$RECORDS" --seed 0 --url-file "$DATA/replica.url" >"$DATA/replica.log" 2>&1 &
REPLICA_PID=$!
trap 'kill $REPLICA_PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$DATA/replica.url" ] && break; sleep 0.1; done
[ -s "$DATA/replica.url" ] || { echo "the replica archive did not start: see $DATA/replica.log" >&2; exit 1; }
URL=$(cat "$DATA/replica.url")
echo "Replica archive of $RECORDS records at $URL"

# Politeness is for other people's servers: the replica is our own, on loopback.
stage crawl python cli.py crawl --profile replica --start-url "$URL" --images-dir "$DATA/images" \
    --concurrency 16 --delay 0 --no-autothrottle
stage dedupe python cli.py dedupe --report "$DATA/duplicates.csv"
stage balance-report python cli.py balance-report --bins 20y --plot "$DATA/balance-20y.png"
stage export python cli.py export --bins 20y --out "$DATA/export-20y" --image-size 144 --force
# The fast, strong path first: frozen ImageNet features and a linear head, 5-fold CV, baselines beside it.
stage train-head python cli.py train --data "$DATA/export-20y" --head-only --cv 5 --img-size 128 --out "$HEAD"
stage train python cli.py train --data "$DATA/export-20y" --arch tf_efficientnet_lite0 --img-size 128 \
    --epochs "$EPOCHS" --lr auto --sampler balanced --loss soft --out "$RUN"
stage evaluate python cli.py evaluate --model "$RUN" --data "$DATA/export-20y" --split test
stage compare python cli.py compare "$HEAD" "$RUN"

printf '\n=== stage times ===\n'
printf '%s\n' "${TIMES[@]}"
cat <<TXT

Balance report chart: $DATA/balance-20y.png
Duplicate clusters:   $DATA/duplicates.csv
Dataset:              $DATA/export-20y (manifest.csv, export.json)
Models:               $HEAD (head-only, with out-of-fold estimates in oof.csv)
                      $RUN (fine-tuned; config.json, metrics.json, confusion_matrix.png, curves.png)
Try the app:          python cli.py serve --model $HEAD --db $DB
These models learned from the replica's drawn photographs: their numbers say nothing about real ones
(see "Dating your own photographs" in README.md).
TXT
