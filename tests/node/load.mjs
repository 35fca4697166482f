// Load generator for `cloze serve` (run by hand, not a test): C concurrent
// clients each send R classify requests of T texts taken in turn from a
// .tsv/.txt file, then it prints throughput and latency percentiles.
// Usage: node load.mjs URL FILE [clients=32] [requests=20] [texts=1]
import { readFileSync } from 'node:fs';

const [url, file, clients = '32', requests = '20', perReq = '1'] = process.argv.slice(2);
if (!url || !file) {
  console.error('usage: node load.mjs http://127.0.0.1:PORT FILE [clients] [requests] [texts]');
  process.exit(2);
}
let lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.length);
if (file.endsWith('.tsv')) lines = lines.slice(1).map((l) => l.split('\t')[0]);
const C = Number(clients), R = Number(requests), T = Number(perReq);

let next = 0, failed = 0, texts = 0;
const latencies = [];
async function client() {
  for (let r = 0; r < R; ++r) {
    const batch = [];
    for (let t = 0; t < T; ++t) batch.push(lines[next++ % lines.length]);
    const t0 = performance.now();
    const res = await fetch(`${url}/v1/classify`, { method: 'POST', body: JSON.stringify({ texts: batch }) });
    const body = await res.json();
    latencies.push(performance.now() - t0);
    if (res.status !== 200 || body.results.length !== T) ++failed;
    else texts += T;
  }
}
const t0 = performance.now();
await Promise.all(Array.from({ length: C }, client));
const seconds = (performance.now() - t0) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
console.log(JSON.stringify({
  clients: C, requests: C * R, texts_per_request: T, failed, texts,
  seconds: +seconds.toFixed(2), texts_per_s: +(texts / seconds).toFixed(1),
  p50_ms: +pct(50).toFixed(1), p99_ms: +pct(99).toFixed(1),
}));
