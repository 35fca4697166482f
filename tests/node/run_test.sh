#!/usr/bin/env bash
# CTest entry for the openai Node client test. Exits 77 (CTest: skipped) when
# node, npm or the installed client (npm ci in this folder) is missing.
# Usage: run_test.sh CLOZE_BIN RANDOM_MODEL_BIN QWEN2_TOKENIZER_JSON
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "skipped: node/npm not installed"; exit 77
fi
if [ ! -d "$here/node_modules/openai" ]; then
  echo "skipped: run 'npm ci' in $here first"; exit 77
fi
model="$(mktemp -d)"
trap 'rm -rf "$model"' EXIT
# The same tiny full-vocabulary Qwen2 the C++ server tests use.
"$2" --arch qwen2 --vocab 151936 --hidden 64 --layers 2 --heads 4 --kv-heads 2 --inter 128 \
  --tied --dtype bf16 --seed 3 --out "$model" --copy-tokenizer "$3" >/dev/null
node "$here/openai_client_test.mjs" "$1" "$model"
