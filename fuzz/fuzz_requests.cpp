// libFuzzer target for the server's request JSON parsers: the body parser
// (depth limit, UTF-8 diagnosis) and the field parsers of every endpoint
// (/v1/classify, /v1/completions). The first byte picks the endpoint; the
// rest is the body. Any input must either parse into a request within the
// limits or fail with ApiError (a 400 / 413 for the client); any other
// exception, a crash or a sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>

#include "cloze/records.h"
#include "server/api_error.h"
#include "server/requests.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t endpoint = data[0];
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  cloze::server::Limits lim;
  lim.max_texts = 8;
  lim.max_text_bytes = 64;
  lim.vocab_size = 1000;
  lim.max_prompt_tokens = 32;
  try {
    const auto j = cloze::server::parse_body(body);
    if (endpoint % 2 == 0) {
      const auto r = cloze::server::parse_classify(j, lim);
      // The parser promised texts the model can take.
      if (r.texts.empty() || r.texts.size() > lim.max_texts) std::abort();
      for (const auto& t : r.texts)
        if (t.size() > lim.max_text_bytes || !cloze::valid_utf8(t)) std::abort();
    } else {
      const auto r = cloze::server::parse_completion(j, lim);
      if (r.prompts.size() > lim.max_texts) std::abort();
      for (const auto& p : r.prompts)
        if (const auto* ids = std::get_if<std::vector<int32_t>>(&p))
          for (int32_t id : *ids)
            if (id < 0 || size_t(id) >= lim.vocab_size) std::abort();
    }
  } catch (const cloze::server::ApiError& e) {
    if (e.status < 400 || e.status > 499) std::abort();  // bad input is the client's error
  }
  return 0;
}
