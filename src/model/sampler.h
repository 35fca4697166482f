#pragma once
// Next-token choice from one row of logits: greedy, or seeded sampling after
// temperature -> top-k -> top-p -> min-p (the order of transformers' warpers).
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace cloze::gen {

struct SamplingParams {
  float temperature = 0;  // 0: greedy
  size_t top_k = 0;
  float top_p = 1;
  float min_p = 0;
  uint64_t seed = 0;
};

struct TokenProb {
  int32_t id;
  double p;
};

// Index of the largest value; ties go to the lowest index; NaN never wins.
// logits: [V], V >= 1.
int32_t argmax(std::span<const float> logits);

class Sampler {
 public:
  explicit Sampler(const SamplingParams& p);

  // logits: [V] -> the chosen id. Greedy when temperature == 0; otherwise
  // one draw from distribution(logits), advancing the RNG by one step.
  int32_t next(std::span<const float> logits);

  // The distribution sampled from, after all filters: the kept tokens by
  // decreasing probability (ties: lower id first), probabilities summing to 1.
  // Not for greedy (temperature 0).
  std::vector<TokenProb> distribution(std::span<const float> logits) const;

  // Uniform double in [0, 1) with 53 random bits, defined by us rather than
  // by std::uniform_real_distribution, whose output differs across standard
  // libraries.
  double uniform();

 private:
  SamplingParams p_;
  std::mt19937_64 rng_;
};

}  // namespace cloze::gen
