// libFuzzer target for the tokenizer.json loader (JSON reading, every
// component built from its "type" tag, vocabulary, merges, added tokens).
// Any input must either load or fail with cloze::Error; a tokenizer that
// loads must then encode and decode a few fixed texts, whole and streamed,
// without anything but cloze::Error escaping. A crash, hang or sanitizer
// report is a bug.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cloze/error.h"
#include "cloze/tokenizer.h"
#include "tokenizer/stream_decoder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string json(reinterpret_cast<const char*>(data), size);
  try {
    const cloze::Tokenizer tok = cloze::Tokenizer::from_json(json, "fuzz-input");
    // Spaces, an added-token string, a byte-fallback character, a CJK
    // Extension B character, newlines, digits and a "▁".
    static const std::string_view kTexts[] = {"", "Hello world", " a  b\n\n\tc <s>x</s> 123",
                                              "\xC3\xA9\xF0\xA0\x80\x80 \xE2\x96\x81\xE2\x96\x81z"};
    for (std::string_view text : kTexts) {
      for (bool add : {true, false}) {
        const auto ids = tok.encode(text, {.special = add, .add_special_tokens = add});
        (void)tok.decode(ids);
        (void)tok.decode(ids, /*skip_special=*/true);
        cloze::tok::StreamDecoder stream(tok);
        for (int32_t id : ids) (void)stream.push(id);
        (void)stream.flush();
      }
    }
    const int32_t odd[] = {-1, 0, 1, 3, 2147483647};
    (void)tok.decode(odd);
    (void)tok.token_to_id("a");
    (void)tok.id_to_token(0);
  } catch (const cloze::Error&) {
    // Expected for malformed or unsupported files.
  }
  return 0;
}
