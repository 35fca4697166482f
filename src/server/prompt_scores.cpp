#include "server/prompt_scores.h"

#include <algorithm>
#include <span>

namespace cloze::server {

namespace {

constexpr size_t kChunk = 64;  // positions per forward: 64 x 151936 floats = 39 MB

}  // namespace

void score_rows(RunContext& ctx, KVCache& cache, PromptScores& s, size_t from, size_t n) {
  const size_t len = s.ids.size();
  // Position p's output row predicts token p + 1; the last position's row
  // would predict past the prompt, so it is not asked for.
  for (size_t start = from; start + 1 < len; start += kChunk) {
    const size_t count = std::min(kChunk, len - 1 - start);
    ForwardItem item{&cache, std::span<const int32_t>(s.ids).subspan(start, count), Outputs::All};
    ForwardResult r = std::move(ctx.forward({&item, 1}, {.rows = {}, .logsumexp = true})[0]);
    for (size_t p = 0; p < count; ++p) {
      std::span<const float> row(r.logits.data() + p * r.cols, r.cols);
      const size_t next = start + p + 1;
      s.logprobs[next] = double(row[size_t(s.ids[next])]) - double(r.lse[p]);
      s.top[next] = top_logprobs(row, n, r.lse[p]);
    }
  }
}

PromptScores score_prompt(RunContext& ctx, std::vector<int32_t> ids, size_t n) {
  PromptScores s;
  s.ids = std::move(ids);
  s.logprobs.assign(s.ids.size(), 0.0);
  s.top.assign(s.ids.size(), {});
  KVCache cache(ctx.model());
  score_rows(ctx, cache, s, 0, n);
  return s;
}

}  // namespace cloze::server
