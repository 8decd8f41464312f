#!/usr/bin/env bash
# The modern suite's systems on the real EMO-DB (docs/results/README.md, "EMO-DB: the modern suite"):
# runs docs/results/emodb-modern-b.toml's suite, then exports the board beside the study's numbers and
# the paired speaker-level test of every system against SVM-IS09 to docs/results/.
#   usage: bash benchmarks/emodb_modern.sh EMODB_WAV_DIR [DB]      (or set SERBENCH_EMODB)
# The Whisper systems need ser-plugin-whisper and the Whisper tiny.en weights ($SERBENCH_SSL_MODEL_DIR);
# without them they are reported as skipped and the others run.
set -uo pipefail
cd "$(dirname "$0")/.."
EMODB=${1:-${SERBENCH_EMODB:?give the EMO-DB wav directory as the first argument or in SERBENCH_EMODB}}
DB=${2:-docs/results/emodb-modern-b.db}
OUT=docs/results
SYSTEMS="svm-is09-online svm-compare2016 logreg-is09 mlp-is09 fusion-egemaps-is09 svm-whisper-tiny.en fusion-whisper-is09"
serbench run --config "$OUT/emodb-modern-b.toml" --suite emodb-modern --corpus emodb --corpus-path "emodb=$EMODB" \
    --db "$DB" --workers 1
for format in md csv json html; do
    serbench leaderboard --db "$DB" --corpus emodb --reference keesing2020 \
        --force --format "$format" --output "$OUT/emodb-modern-b.$format"
done
{
    echo "# serbench compare SYSTEM svm-is09 --corpus emodb ($(date -u +%F))"
    for system in $SYSTEMS; do
        serbench compare "$system" svm-is09 --corpus emodb --db "$DB"
    done
    serbench compare fusion-whisper-is09 svm-whisper-tiny.en --corpus emodb --db "$DB"
} > "$OUT/emodb-modern-b-paired.txt" 2>&1
