#include "tokenizer/normalizer.h"

#include <cstdlib>

#include <utf8proc.h>

#include "cloze/error.h"
#include "tokenizer/json_load.h"

namespace cloze::tok {

void Normalizer::parse_into(const nlohmann::json& j, const std::string& what, const std::string& path,
                            std::vector<Form>& steps) {
  if (j.is_null()) return;
  const std::string type = get_type(j, what, path);
  if (type == "NFC") steps.push_back(Form::kNFC);
  else if (type == "NFD") steps.push_back(Form::kNFD);
  else if (type == "NFKC") steps.push_back(Form::kNFKC);
  else if (type == "NFKD") steps.push_back(Form::kNFKD);
  else if (type == "Sequence") {
    const nlohmann::json* list = find(j, "normalizers");
    if (!list || !list->is_array())
      throw Error(what + ": " + path + ".normalizers: expected an array, found " +
                  (list ? json_type_name(*list) : "nothing"));
    for (size_t i = 0; i < list->size(); ++i)
      parse_into((*list)[i], what, path + ".normalizers[" + std::to_string(i) + "]", steps);
  } else {
    throw Error(what + ": " + path + ": unsupported normalizer type \"" + type +
                "\" (supported: NFC, NFD, NFKC, NFKD, Sequence, null)");
  }
}

Normalizer Normalizer::from_json(const nlohmann::json& j, const std::string& what, const std::string& path) {
  Normalizer n;
  parse_into(j, what, path, n.steps_);
  return n;
}

namespace {

// Quick checks that let most text skip utf8proc (which always allocates).
// Every code point below U+0300 has NFC_Quick_Check=Yes and combining class
// 0, so text made only of them is already NFC; in UTF-8 those are exactly
// the strings with no byte >= 0xCC. The other forms change Latin-1 letters
// (NFD decomposes 'é', NFKC maps U+00A0), so only ASCII is safe for them.
bool no_byte_at_least(std::string_view s, unsigned char limit) {
  for (unsigned char c : s)
    if (c >= limit) return false;
  return true;
}

}  // namespace

std::string_view Normalizer::apply(std::string_view in, std::string& scratch) const {
  std::string_view cur = in;
  std::string tmp;
  for (Form f : steps_) {
    if (no_byte_at_least(cur, f == Form::kNFC ? 0xCC : 0x80)) continue;
    int options = UTF8PROC_STABLE;
    switch (f) {
      case Form::kNFC: options |= UTF8PROC_COMPOSE; break;
      case Form::kNFD: options |= UTF8PROC_DECOMPOSE; break;
      case Form::kNFKC: options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
      case Form::kNFKD: options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
    }
    utf8proc_uint8_t* out = nullptr;
    const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(cur.data()),
                                            static_cast<utf8proc_ssize_t>(cur.size()), &out,
                                            static_cast<utf8proc_option_t>(options));
    if (n < 0) {
      // Input was validated before; this is an internal invariant.
      throw std::runtime_error(std::string("utf8proc normalization failed: ") + utf8proc_errmsg(n));
    }
    tmp.assign(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
    std::free(out);
    scratch.swap(tmp);
    cur = scratch;
  }
  return cur;
}

}  // namespace cloze::tok
