#!/usr/bin/env bash
# CTest entry for the headless-Chromium test of the eval report and the serve
# page. Exits 77 (CTest: skipped) when node, Chromium or playwright-core (npm
# ci in this folder) is missing.
# Usage: run_browser_test.sh CLOZE_BIN RANDOM_MODEL_BIN QWEN2_TOKENIZER_JSON SST2_TSV [SCREENSHOT_DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
chromium="${CHROMIUM:-/usr/bin/chromium}"
if ! command -v node >/dev/null; then echo "skipped: node not installed"; exit 77; fi
if [ ! -x "$chromium" ]; then echo "skipped: no Chromium at $chromium (apt-get install chromium)"; exit 77; fi
if [ ! -d "$here/node_modules/playwright-core" ]; then echo "skipped: run 'npm ci' in $here first"; exit 77; fi
model="$(mktemp -d)"
trap 'rm -rf "$model"' EXIT
# The same tiny full-vocabulary Qwen2 the C++ tests use.
"$2" --arch qwen2 --vocab 151936 --hidden 64 --layers 2 --heads 4 --kv-heads 2 --inter 128 \
  --tied --dtype bf16 --seed 3 --out "$model" --copy-tokenizer "$3" >/dev/null
CHROMIUM="$chromium" node "$here/browser_test.mjs" "$1" "$model" "$4" ${5:+"$5"}
