// The official `openai` Node client against a real `cloze serve`: the
// answers it gets must parse into its types, with the numbers lm-evaluation-
// harness reads (echoed tokens, token_logprobs, top_logprobs) in place.
// Usage: node openai_client_test.mjs CLOZE_BIN MODEL_DIR
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import OpenAI from 'openai';

const [bin, modelDir] = process.argv.slice(2);
if (!bin || !modelDir) {
  console.error('usage: node openai_client_test.mjs CLOZE_BIN MODEL_DIR');
  process.exit(2);
}

// Starts the server on a free port; resolves with the port once it is ready.
function startServer() {
  const child = spawn(bin, ['serve', '--model', modelDir, '--port', '0', '--threads', '1', '--model-id', 'tiny'],
                      { stdio: ['ignore', 'inherit', 'pipe'] });
  const ready = new Promise((resolve, reject) => {
    let log = '', port = 0;
    child.stderr.on('data', (chunk) => {
      log += chunk;
      const m = log.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) port = Number(m[1]);
      if (port && log.includes('cloze: ready')) resolve(port);
    });
    child.on('exit', (code) => reject(new Error(`server exited (${code}) before it was ready:\n${log}`)));
  });
  return { child, ready };
}

const { child, ready } = startServer();
const timer = setTimeout(() => { child.kill('SIGKILL'); console.error('timed out'); process.exit(1); }, 60000);
try {
  const port = await ready;
  const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'not-needed', maxRetries: 0 });

  const models = await client.models.list();
  assert.deepEqual(models.data.map((m) => m.id), ['tiny']);

  const prompt = 'Question: Is the review positive? Answer: positive';
  const r = await client.completions.create({ model: 'tiny', prompt, max_tokens: 0, echo: true, logprobs: 3 });
  assert.equal(r.object, 'text_completion');
  assert.equal(r.choices.length, 1);
  const c = r.choices[0];
  assert.equal(c.text, prompt);
  const lp = c.logprobs;
  const n = lp.tokens.length;
  assert.ok(n > 3, `expected several tokens, got ${n}`);
  assert.equal(lp.token_logprobs.length, n);
  assert.equal(lp.top_logprobs.length, n);
  assert.equal(lp.text_offset.length, n);
  assert.equal(lp.token_logprobs[0], null);
  assert.equal(lp.top_logprobs[0], null);
  assert.equal(lp.tokens.join(''), prompt);
  for (let i = 1; i < n; ++i) {
    assert.ok(lp.token_logprobs[i] <= 0, `logprob ${i} is ${lp.token_logprobs[i]}`);
    const alts = Object.values(lp.top_logprobs[i]);
    assert.equal(alts.length, 3);
    // The likeliest alternative is at least as likely as the actual token.
    assert.ok(Math.max(...alts) >= lp.token_logprobs[i] - 1e-9);
  }
  assert.equal(r.usage.prompt_tokens, n);
  assert.equal(r.usage.completion_tokens, 0);

  // Several prompts, one as token ids (as lm-evaluation-harness sends them).
  const many = await client.completions.create({ model: 'tiny', prompt: ['a b c', 'd e'], max_tokens: 0, echo: true, logprobs: 1 });
  assert.deepEqual(many.choices.map((x) => x.index), [0, 1]);
  assert.deepEqual(many.choices.map((x) => x.text), ['a b c', 'd e']);

  // Generation: greedy, and a bad sampling field as a 400 the client turns into an error.
  const gen = await client.completions.create({ model: 'tiny', prompt: 'x', max_tokens: 3, temperature: 0 });
  assert.ok(['length', 'stop'].includes(gen.choices[0].finish_reason));
  assert.ok(gen.usage.completion_tokens >= 1 && gen.usage.completion_tokens <= 3);
  await assert.rejects(client.completions.create({ model: 'tiny', prompt: 'x', max_tokens: 5, top_p: 0 }), (e) => {
    assert.equal(e.status, 400);
    assert.equal(e.param, 'top_p');
    return true;
  });

  // Chat completions through the model's chat template (Qwen2's), streamed
  // and not: the same seed gives the same text either way.
  const messages = [{ role: 'system', content: 'You classify reviews.' },
                    { role: 'user', content: 'A fine film. Positive or negative?' }];
  const sampling = { model: 'tiny', messages, max_tokens: 8, temperature: 0.8, seed: 7 };
  const chat = await client.chat.completions.create({ ...sampling, logprobs: true, top_logprobs: 2 });
  assert.equal(chat.object, 'chat.completion');
  assert.equal(chat.choices[0].message.role, 'assistant');
  assert.equal(typeof chat.choices[0].message.content, 'string');
  assert.ok(['length', 'stop'].includes(chat.choices[0].finish_reason));
  assert.equal(chat.choices[0].logprobs.content.length, chat.usage.completion_tokens);
  for (const t of chat.choices[0].logprobs.content) {
    assert.ok(t.logprob <= 0);
    assert.equal(t.top_logprobs.length, 2);
  }
  const stream = await client.chat.completions.create({ ...sampling, stream: true });
  let streamed = '', finish = null, chunks = 0;
  for await (const chunk of stream) {
    ++chunks;
    assert.equal(chunk.object, 'chat.completion.chunk');
    const ch = chunk.choices[0];
    if (ch.delta.content) streamed += ch.delta.content;
    if (ch.finish_reason) finish = ch.finish_reason;
  }
  assert.equal(streamed, chat.choices[0].message.content);
  assert.equal(finish, chat.choices[0].finish_reason);
  assert.ok(chunks >= 2);

  // /v1/completions streams too.
  const cs = await client.completions.create({ model: 'tiny', prompt: 'x', max_tokens: 6, temperature: 0.7, seed: 3, stream: true });
  let ctext = '';
  for await (const part of cs) ctext += part.choices[0]?.text ?? '';
  const cn = await client.completions.create({ model: 'tiny', prompt: 'x', max_tokens: 6, temperature: 0.7, seed: 3 });
  assert.equal(ctext, cn.choices[0].text);

  // A client that leaves mid-stream does not disturb the others: a request
  // made while its generation is being cancelled answers as before.
  const ac = new AbortController();
  const long = await client.chat.completions.create({ ...sampling, max_tokens: 400, temperature: 1, seed: 1, stream: true },
                                                    { signal: ac.signal });
  let seen = 0;
  try {
    for await (const part of long) if (++seen === 3) ac.abort();
  } catch (e) { /* the abort ends the iteration */ }
  const again = await client.chat.completions.create(sampling);
  assert.equal(again.choices[0].message.content, chat.choices[0].message.content);

  // Fields this server does not implement are a 400 naming the field.
  for (const [field, value] of [['presence_penalty', 0.5], ['frequency_penalty', 1], ['logit_bias', { 42: 5 }], ['n', 2]]) {
    await assert.rejects(client.chat.completions.create({ ...sampling, [field]: value }), (e) => {
      assert.equal(e.status, 400);
      assert.equal(e.param, field);
      return true;
    });
  }
  console.log(`openai client OK: ${n} tokens scored, models and errors parsed; chat ${streamed.length} chars in ${chunks} chunks`);
} finally {
  clearTimeout(timer);
  child.kill('SIGTERM');
}
const code = await new Promise((resolve) => child.on('exit', (c) => resolve(c)));
assert.equal(code, 0, `server exit status after SIGTERM: ${code}`);
