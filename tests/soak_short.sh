#!/usr/bin/env bash
# CTest entry: a 15-second version of the server soak (tools/soak_server.py;
# the 10-minute run and its figures are in docs/robustness.md).
# Usage: soak_short.sh CLOZE_BIN RANDOM_MODEL_BIN QWEN2_TOKENIZER_JSON SOAK_PY
set -euo pipefail
[ -x /usr/bin/python3 ] || { echo "skipped: /usr/bin/python3 missing"; exit 77; }
model="$(mktemp -d)"
trap 'rm -rf "$model"' EXIT
"$2" --arch qwen2 --vocab 151936 --hidden 64 --layers 2 --heads 4 --kv-heads 2 --inter 128 \
  --tied --dtype bf16 --seed 3 --out "$model" --copy-tokenizer "$3" >/dev/null
# 15 s is mostly warm-up (classifier cache, allocator arenas): the short run
# checks that every mixed request is answered right and the exit is clean;
# its RSS bound only catches a gross leak.
/usr/bin/python3 "$4" "$1" "$model" --seconds 15 --warmup 8 --sample 1 --clients 4 --max-growth 0.5
