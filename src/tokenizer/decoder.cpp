#include "tokenizer/decoder.h"

#include "cloze/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/json_load.h"
#include "tokenizer/utf8.h"

namespace cloze::tok {

Decoder Decoder::from_json(const nlohmann::json& j, const std::string& what, const std::string& path) {
  Decoder d;
  if (j.is_null()) return d;
  const std::string type = get_type(j, what, path);
  if (type == "ByteLevel") {
    d.byte_level_ = true;  // its options only concern offsets
    return d;
  }
  throw Error(what + ": " + path + ": unsupported decoder type \"" + type + "\" (supported: ByteLevel, null)");
}

std::string Decoder::decode(const std::vector<std::string_view>& tokens) const {
  std::string bytes;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (!byte_level_) {
      // `tokenizers` without a decoder joins the tokens with spaces.
      if (i) bytes.push_back(' ');
      bytes.append(tokens[i]);
      continue;
    }
    // A token outside the byte alphabet (e.g. an added token with other
    // characters) is kept as it is, as `tokenizers` does.
    if (!byte_level::decode(tokens[i], bytes)) bytes.append(tokens[i]);
  }
  // Ids can cut a character in the middle; like `tokenizers`, replace the
  // broken bytes with U+FFFD rather than return invalid UTF-8.
  return utf8::lossy(bytes);
}

}  // namespace cloze::tok
