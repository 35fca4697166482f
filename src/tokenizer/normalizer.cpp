#include "tokenizer/normalizer.h"

#include <cstdlib>

#include <utf8proc.h>

#include "cloze/error.h"
#include "tokenizer/json_load.h"

namespace cloze::tok {

Normalizer::Normalizer(Normalizer&&) noexcept = default;
Normalizer& Normalizer::operator=(Normalizer&&) noexcept = default;
Normalizer::~Normalizer() = default;

void Normalizer::parse_into(const nlohmann::json& j, const std::string& what, const std::string& path,
                            std::vector<Step>& steps) {
  if (j.is_null()) return;
  const std::string type = get_type(j, what, path);
  using K = Step::Kind;
  if (type == "NFC") steps.push_back({K::kNFC});
  else if (type == "NFD") steps.push_back({K::kNFD});
  else if (type == "NFKC") steps.push_back({K::kNFKC});
  else if (type == "NFKD") steps.push_back({K::kNFKD});
  else if (type == "Replace") {
    Step s{K::kReplace};
    const nlohmann::json* pat = find(j, "pattern");
    if (!pat || !pat->is_object())
      throw Error(what + ": " + path + ".pattern: expected an object {\"String\": ...} or {\"Regex\": ...}, found " +
                  (pat ? json_type_name(*pat) : "nothing (field missing)"));
    if (const auto* r = find(*pat, "Regex"); r && r->is_string())
      s.regex = std::make_unique<Regex>(r->get<std::string>(), false, what + ": " + path + ".pattern.Regex");
    else if (const auto* t = find(*pat, "String"); t && t->is_string())
      s.text = t->get<std::string>();
    else
      throw Error(what + ": " + path + ".pattern: expected a string under \"String\" or \"Regex\"");
    if (!s.regex && s.text.empty())
      throw Error(what + ": " + path + ".pattern.String: an empty pattern cannot be replaced");
    s.content = get_string(j, "content", what, path);
    steps.push_back(std::move(s));
  } else if (type == "Prepend") {
    Step s{K::kPrepend};
    s.text = get_string(j, "prepend", what, path);
    steps.push_back(std::move(s));
  } else if (type == "Sequence") {
    const nlohmann::json* list = find(j, "normalizers");
    if (!list || !list->is_array())
      throw Error(what + ": " + path + ".normalizers: expected an array, found " +
                  (list ? json_type_name(*list) : "nothing"));
    for (size_t i = 0; i < list->size(); ++i)
      parse_into((*list)[i], what, path + ".normalizers[" + std::to_string(i) + "]", steps);
  } else {
    throw Error(what + ": " + path + ": unsupported normalizer type \"" + type +
                "\" (supported: NFC, NFD, NFKC, NFKD, Replace, Prepend, Sequence, null)");
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

// Unicode form 0..3 = NFC, NFD, NFKC, NFKD. Returns false (out untouched)
// when `in` is already in that form.
bool unicode_form(int kind, std::string_view in, std::string& out) {
  if (no_byte_at_least(in, kind == 0 ? 0xCC : 0x80)) return false;
  int options = UTF8PROC_STABLE;
  switch (kind) {
    case 0: options |= UTF8PROC_COMPOSE; break;
    case 1: options |= UTF8PROC_DECOMPOSE; break;
    case 2: options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
    default: options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
  }
  utf8proc_uint8_t* res = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(in.data()),
                                          static_cast<utf8proc_ssize_t>(in.size()), &res,
                                          static_cast<utf8proc_option_t>(options));
  if (n < 0)  // input was validated before; this is an internal invariant
    throw std::runtime_error(std::string("utf8proc normalization failed: ") + utf8proc_errmsg(n));
  out.assign(reinterpret_cast<const char*>(res), static_cast<size_t>(n));
  std::free(res);
  return true;
}

}  // namespace

std::string_view Normalizer::apply(std::string_view in, std::string& scratch) const {
  std::string_view cur = in;
  std::string tmp;
  for (const Step& s : steps_) {
    tmp.clear();
    switch (s.kind) {
      case Step::Kind::kNFC:
      case Step::Kind::kNFD:
      case Step::Kind::kNFKC:
      case Step::Kind::kNFKD:
        if (!unicode_form(int(s.kind), cur, tmp)) continue;
        break;
      case Step::Kind::kReplace:
        if (s.regex) {
          thread_local std::vector<Regex::Span> spans;
          spans.clear();
          s.regex->find_matches(cur, spans);
          bool any = false;
          for (const auto& sp : spans) {
            if (sp.is_match) { tmp += s.content; any = true; }
            else tmp.append(cur.substr(sp.start, sp.end - sp.start));
          }
          if (!any) continue;
        } else {
          size_t at = cur.find(s.text);
          if (at == std::string_view::npos) continue;
          tmp.reserve(cur.size() + cur.size() / 2);
          size_t done = 0;
          for (; at != std::string_view::npos; at = cur.find(s.text, done)) {
            tmp.append(cur.substr(done, at - done)).append(s.content);
            done = at + s.text.size();
          }
          tmp.append(cur.substr(done));
        }
        break;
      case Step::Kind::kPrepend:
        // `tokenizers` prepends only to non-empty text.
        if (cur.empty()) continue;
        tmp.reserve(s.text.size() + cur.size());
        tmp.append(s.text).append(cur);
        break;
    }
    scratch.swap(tmp);
    cur = scratch;
  }
  return cur;
}

}  // namespace cloze::tok
