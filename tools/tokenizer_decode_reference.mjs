// Makes tests/fixtures/tokenizer/families/NAME_decoded.jsonl: the
// transformers.js (@lenml/tokenizers 3.7.2) decoding of each row's ids in
// NAME_expected.jsonl, so the C++ decoder is checked against an independent
// implementation. Run from tests/node (where the packages are installed):
//   node ../../tools/tokenizer_decode_reference.mjs ../fixtures/tokenizer/families
// Each line: {"decoded": decode(ids_no_special), "decoded_with_special": decode(ids)}
// with skip_special_tokens false and clean_up_tokenization_spaces false (the
// `tokenizers` library never cleans up; transformers' Python layer may).
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.join(process.cwd(), 'package.json'));
const { TokenizerLoader } = require('@lenml/tokenizers');
const dir = process.argv[2];
for (const name of ['llama2', 'llama3_1', 'gemma3']) {
  const models = path.dirname(require.resolve(`@lenml/tokenizer-${name}/models/tokenizer`));
  const tok = TokenizerLoader.fromPreTrained({
    tokenizerJSON: JSON.parse(readFileSync(path.join(models, 'tokenizer.json'), 'utf8')),
    tokenizerConfig: JSON.parse(readFileSync(path.join(models, 'tokenizer_config.json'), 'utf8')),
  });
  const opts = { skip_special_tokens: false, clean_up_tokenization_spaces: false };
  const rows = readFileSync(path.join(dir, `${name}_expected.jsonl`), 'utf8').split('\n').filter((l) => l.length);
  const out = rows.map((l) => {
    const r = JSON.parse(l);
    return JSON.stringify({ decoded: tok.decode(r.ids_no_special, opts), decoded_with_special: tok.decode(r.ids, opts) });
  });
  writeFileSync(path.join(dir, `${name}_decoded.jsonl`), out.join('\n') + '\n');
  console.log(name, out.length, 'rows');
}
