#!/usr/bin/env bash
# CTest entry: the weight prefetches are in the machine code. GCC deletes a
# loop whose only statements are _mm_prefetch calls; the AMX matmul's L2
# prefetch of the next weight block was such a loop and silently never ran
# (docs/performance.md, AMX third round), which no result and no timing test
# shows. So: the AMX code must contain PREFETCHT1 (its asm prefetch_l2), and
# so must the AVX-512 matmul (its weight-panel prefetch).
# Usage: prefetch_emitted.sh CLOZE_BIN
set -euo pipefail
command -v objdump >/dev/null || { echo "skipped: objdump missing"; exit 77; }
[ "$(uname -m)" = x86_64 ] || { echo "skipped: not x86-64"; exit 77; }
dis="$(mktemp)"
trap 'rm -f "$dis"' EXIT
objdump -d -C --no-show-raw-insn "$1" > "$dis"
# prefetcht1 count per kernel set, by the function each instruction is in
count() {
  awk -v set="$1" '/^[0-9a-f]+ <.*>:$/ { in_set = index($0, "cloze::kernels::" set "::") > 0 }
                   in_set && /prefetcht1/ { n++ } END { print n + 0 }' "$dis"
}
status=0
for set in amx avx512; do
  n=$(count "$set")
  echo "$set: $n prefetcht1 instructions"
  if [ "$n" -eq 0 ]; then
    echo "FAIL: no prefetcht1 in cloze::kernels::$set:: code (was a prefetch-only loop deleted by the compiler?)"
    status=1
  fi
done
exit $status
