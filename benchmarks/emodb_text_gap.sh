#!/usr/bin/env bash
# Words vs voice on the real EMO-DB (docs/results/README.md, "EMO-DB: speaker- vs text-independent
# folds"): runs docs/results/emodb-text-gap.toml's suites (svm-is09 and svm-whisper-tiny.en under
# speaker-independent and text-independent folds, then the Whisper + PyTorch head system at reduced CPU
# settings), then exports the board and the paired speaker-level tests to docs/results/; then the head at
# its own defaults in a second database (SKIP_HEAD=1 leaves both head runs out).
#   usage: bash benchmarks/emodb_text_gap.sh EMODB_WAV_DIR [DB]      (or set SERBENCH_EMODB)
# The Whisper systems need ser-plugin-whisper and the tiny.en weights ($SERBENCH_SSL_MODEL_DIR holding
# whisper-tiny.en/, or the Hugging Face Hub). Re-running resumes: finished cells are kept.
set -uo pipefail
cd "$(dirname "$0")/.."
EMODB=${1:-${SERBENCH_EMODB:?give the EMO-DB wav directory as the first argument or in SERBENCH_EMODB}}
DB=${2:-docs/results/emodb-text-gap.db}
OUT=docs/results
CONFIG=$OUT/emodb-text-gap.toml
for suite in emodb-speaker-independent emodb-text-independent emodb-head-cpu; do
    [ -n "${SKIP_HEAD:-}" ] && [ "$suite" = emodb-head-cpu ] && continue
    serbench run --config "$CONFIG" --suite "$suite" --corpus-path "emodb=$EMODB" --db "$DB" --workers 1
done
for format in md csv json html; do
    serbench leaderboard --db "$DB" --corpus emodb --reference keesing2020 \
        --force --format "$format" --output "$OUT/emodb-text-gap.$format"
done
{
    echo "# paired speaker-level tests on EMO-DB ($(date -u +%F)); A - B"
    echo "## the gap: speaker-independent (A) vs text-independent (B) folds, same system"
    serbench compare svm-is09 svm-is09-text-independent --corpus emodb --db "$DB"
    serbench compare svm-whisper-tiny.en svm-whisper-tiny.en-text-independent --corpus emodb --db "$DB"
    echo "## Whisper vs IS09 under each fold policy"
    serbench compare svm-whisper-tiny.en svm-is09 --corpus emodb --db "$DB"
    serbench compare svm-whisper-tiny.en-text-independent svm-is09-text-independent --corpus emodb --db "$DB"
    echo "## the PyTorch head (speaker-independent)"
    serbench compare head-whisper-tiny.en svm-is09 --corpus emodb --db "$DB"
    serbench compare head-whisper-tiny.en svm-whisper-tiny.en --corpus emodb --db "$DB"
} > "$OUT/emodb-text-gap-paired.txt" 2>&1
# the head at its own defaults, in its own database beside svm-is09 and svm-whisper-tiny.en
[ -n "${SKIP_HEAD:-}" ] && exit 0
HEAD_DB=${HEAD_DB:-$OUT/emodb-head-defaults.db}
serbench run --config "$CONFIG" --suite emodb-head-defaults --corpus-path "emodb=$EMODB" --db "$HEAD_DB" --workers 1
for format in md csv json html; do
    serbench leaderboard --db "$HEAD_DB" --corpus emodb --reference keesing2020 \
        --force --format "$format" --output "$OUT/emodb-head-defaults.$format"
done
{
    echo "# paired speaker-level tests on EMO-DB ($(date -u +%F)); A - B; head-whisper-tiny.en at its defaults"
    serbench compare head-whisper-tiny.en svm-is09 --corpus emodb --db "$HEAD_DB"
    serbench compare head-whisper-tiny.en svm-whisper-tiny.en --corpus emodb --db "$HEAD_DB"
} > "$OUT/emodb-head-defaults-paired.txt" 2>&1
