#include "test_models.h"

#include <unistd.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

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

}  // namespace cloze::test
