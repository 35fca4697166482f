#include "test_models.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <stdexcept>
#include <string>

#include "test_util.h"

namespace cloze::test {

std::filesystem::path full_vocab_qwen2() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("cloze_fullvocab_" + std::to_string(::getpid()));
    std::filesystem::remove_all(d);
    std::string cmd = std::string(CLOZE_RANDOM_MODEL_BIN) +
                      " --arch qwen2 --vocab 151936 --hidden 64 --layers 2 --heads 4 --kv-heads 2 --inter 128"
                      " --tied --dtype bf16 --seed 3 --out " + d.string() +
                      " --copy-tokenizer " + std::string(CLOZE_FIXTURES) + "/tokenizer/qwen2/tokenizer.json >/dev/null";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("failed: " + cmd);
    std::atexit([] { std::filesystem::remove_all(std::filesystem::temp_directory_path() /
                                                  ("cloze_fullvocab_" + std::to_string(::getpid()))); });
    return d;
  }();
  return dir;
}

std::vector<std::vector<double>> full_vocab_logprob_rows(const std::vector<int32_t>& ids) {
  std::string list;
  for (int32_t id : ids) {
    if (!list.empty()) list += ",";
    list += std::to_string(id);
  }
  auto r = run_command(std::string(CLOZE_BIN) + " logits --all --threads 1 --model " + full_vocab_qwen2().string() +
                       " --ids " + list);
  EXPECT_EQ(r.status, 0);
  auto out = nlohmann::json::parse(r.out);
  std::vector<std::vector<double>> rows;
  for (auto& row : out["logits"]) {
    std::vector<double> v = row.get<std::vector<double>>();
    double m = *std::max_element(v.begin(), v.end()), z = 0;
    for (double x : v) z += std::exp(x - m);
    for (double& x : v) x -= m + std::log(z);
    rows.push_back(std::move(v));
  }
  return rows;
}

}  // namespace cloze::test
