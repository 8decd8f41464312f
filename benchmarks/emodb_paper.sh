#!/usr/bin/env bash
# The study's systems on the real EMO-DB: SVM-IS09 with the `paper` suite (the study's settings,
# 3 repeats) and every neural system with $NEURAL_SUITE (default `paper-quick`, CPU smoke settings;
# `paper-cpu` for the budgeted CPU run, `paper` on a GPU), each result stating its settings.
# Times each system's run and exports the board, beside the study's numbers, to docs/results/.
#   usage: bash benchmarks/emodb_paper.sh EMODB_WAV_DIR [DB]      (or set SERBENCH_EMODB)
set -uo pipefail
cd "$(dirname "$0")/.."
EMODB=${1:-${SERBENCH_EMODB:?give the EMO-DB wav directory as the first argument or in SERBENCH_EMODB}}
DB=${2:-serbench-emodb.db}
NEURAL_SUITE=${NEURAL_SUITE:-paper-quick}
OUT=docs/results
mkdir -p "$OUT"
TIMES="$OUT/emodb-wall-times.txt"
echo "# system suite elapsed_seconds exit_status (serbench run on $(nproc) cores, $(date -u +%F))" > "$TIMES"
run() {  # suite system
    local start=$SECONDS
    serbench run --suite "$1" --corpus emodb --system "$2" --corpus-path "emodb=$EMODB" --db "$DB"
    echo "$2 $1 $((SECONDS - start)) $?" >> "$TIMES"
}
run paper svm-is09
for system in A1-aldeneh-logmel40 L-latif-raw5s O-zhao-spec5s40 A2-aldeneh-logmel240 A3-aldeneh-spec5s240 N-zhang-raw5s; do
    run "$NEURAL_SUITE" "$system"
done
for format in md csv json html; do
    serbench leaderboard --db "$DB" --corpus emodb --reference keesing2020 \
        --force --format "$format" --output "$OUT/emodb-leaderboard.$format"
done
