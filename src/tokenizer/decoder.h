#pragma once
// tokenizer.json "decoder": turns token strings back into text. ByteLevel
// maps each alphabet character back to its byte; null joins with spaces.
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace cloze::tok {

class Decoder {
 public:
  static Decoder from_json(const nlohmann::json& j, const std::string& what, const std::string& path = "decoder");
  // `tokens` are vocabulary entries / added-token contents, in order.
  std::string decode(const std::vector<std::string_view>& tokens) const;

 private:
  bool byte_level_ = false;
};

}  // namespace cloze::tok
