#include "tokenizer/decoder.h"

#include "cloze/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/json_load.h"
#include "tokenizer/utf8.h"

namespace cloze::tok {

Decoder::Decoder(Decoder&&) noexcept = default;
Decoder& Decoder::operator=(Decoder&&) noexcept = default;
Decoder::~Decoder() = default;

namespace {

constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

// The single character of a decoder's "content" field.
std::string one_char(const nlohmann::json& j, const char* key, const std::string& what, const std::string& path) {
  const std::string s = get_string(j, key, what, path);
  size_t end = 0;
  if (s.empty() || utf8::first_invalid(s) || (utf8::next(s, end), end != s.size()))
    throw Error(what + ": " + path + "." + key + ": expected exactly one character, found \"" + s + "\"");
  return s;
}

size_t get_count(const nlohmann::json& j, const char* key, const std::string& what, const std::string& path) {
  const nlohmann::json* v = find(j, key);
  if (!v || v->is_null()) return 0;
  if (!v->is_number_unsigned() || v->get<uint64_t>() > 1'000'000)
    throw Error(what + ": " + path + "." + key + ": expected a small non-negative integer, found " + v->dump());
  return v->get<size_t>();
}

// "<0xAB>" -> 0xAB, as `tokenizers` reads it (u8::from_str_radix of the two
// characters, which also accepts a "+" sign before one digit); -1 otherwise.
int byte_token(std::string_view t) {
  if (t.size() != 6 || !t.starts_with("<0x") || t.back() != '>') return -1;
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  const int hi = hex(t[3]), lo = hex(t[4]);
  if (t[3] == '+' && lo >= 0) return lo;
  return (hi < 0 || lo < 0) ? -1 : hi * 16 + lo;
}

}  // namespace

void Decoder::parse_into(const nlohmann::json& j, const std::string& what, const std::string& path,
                         std::vector<Step>& steps) {
  const std::string type = get_type(j, what, path);
  using K = Step::Kind;
  if (type == "ByteLevel") {
    steps.push_back({K::kByteLevel});  // its options only concern offsets
  } else if (type == "ByteFallback") {
    steps.push_back({K::kByteFallback});
  } else if (type == "Fuse") {
    steps.push_back({K::kFuse});
  } else if (type == "Replace") {
    Step s{K::kReplace};
    const nlohmann::json* pat = find(j, "pattern");
    if (!pat || !pat->is_object())
      throw Error(what + ": " + path + ".pattern: expected an object {\"String\": ...} or {\"Regex\": ...}, found " +
                  (pat ? json_type_name(*pat) : "nothing (field missing)"));
    if (const auto* r = find(*pat, "Regex"); r && r->is_string())
      s.regex = std::make_unique<Regex>(r->get<std::string>(), false, what + ": " + path + ".pattern.Regex");
    else if (const auto* t = find(*pat, "String"); t && t->is_string())
      s.pattern = t->get<std::string>();
    else
      throw Error(what + ": " + path + ".pattern: expected a string under \"String\" or \"Regex\"");
    if (!s.regex && s.pattern.empty())
      throw Error(what + ": " + path + ".pattern.String: an empty pattern cannot be replaced");
    s.content = get_string(j, "content", what, path);
    steps.push_back(std::move(s));
  } else if (type == "Strip") {
    Step s{K::kStrip};
    s.content = one_char(j, "content", what, path);
    s.start = get_count(j, "start", what, path);
    s.stop = get_count(j, "stop", what, path);
    steps.push_back(std::move(s));
  } else if (type == "Metaspace") {
    Step s{K::kMetaspace};
    s.content = one_char(j, "replacement", what, path);
    if (const nlohmann::json* ps = find(j, "prepend_scheme"); ps && !ps->is_null()) {
      const std::string v = ps->is_string() ? ps->get<std::string>() : ps->dump();
      if (v != "always" && v != "first" && v != "never")
        throw Error(what + ": " + path + ".prepend_scheme: expected \"always\", \"first\" or \"never\", found " + v);
      s.first_prefix = v != "never";
    } else {
      s.first_prefix = get_bool(j, "add_prefix_space", true, what, path);
    }
    steps.push_back(std::move(s));
  } else if (type == "Sequence") {
    const nlohmann::json* list = find(j, "decoders");
    if (!list || !list->is_array())
      throw Error(what + ": " + path + ".decoders: expected an array, found " +
                  (list ? json_type_name(*list) : "nothing (field missing)"));
    for (size_t i = 0; i < list->size(); ++i)
      parse_into((*list)[i], what, path + ".decoders[" + std::to_string(i) + "]", steps);
  } else {
    throw Error(what + ": " + path + ": unsupported decoder type \"" + type +
                "\" (supported: ByteLevel, ByteFallback, Fuse, Replace, Strip, Metaspace, Sequence, null)");
  }
}

Decoder Decoder::from_json(const nlohmann::json& j, const std::string& what, const std::string& path) {
  Decoder d;
  if (j.is_null()) return d;
  d.none_ = false;
  parse_into(j, what, path, d.steps_);
  return d;
}

void Decoder::run(const Step& s, std::vector<std::string>& tokens) {
  using K = Step::Kind;
  switch (s.kind) {
    case K::kByteLevel: {
      // A token outside the byte alphabet (e.g. an added token with other
      // characters) is kept as it is, as `tokenizers` does.
      std::string bytes;
      for (const auto& t : tokens)
        if (!byte_level::decode(t, bytes)) bytes.append(t);
      tokens.assign(1, utf8::lossy(bytes));
      return;
    }
    case K::kByteFallback: {
      std::vector<std::string> out;
      out.reserve(tokens.size());
      std::string run;  // bytes of consecutive <0xNN> tokens
      size_t run_tokens = 0;
      auto flush = [&] {
        if (!run_tokens) return;
        if (!utf8::first_invalid(run)) out.push_back(run);
        else
          for (size_t k = 0; k < run_tokens; ++k) out.emplace_back(kReplacementChar);
        run.clear();
        run_tokens = 0;
      };
      for (auto& t : tokens) {
        if (const int b = byte_token(t); b >= 0) {
          run.push_back(char(b));
          ++run_tokens;
          continue;
        }
        flush();
        out.push_back(std::move(t));
      }
      flush();
      tokens.swap(out);
      return;
    }
    case K::kFuse: {
      std::string all;
      for (const auto& t : tokens) all += t;
      tokens.assign(1, std::move(all));
      return;
    }
    case K::kReplace:
      for (auto& t : tokens) {
        std::string r;
        if (s.regex) {
          thread_local std::vector<Regex::Span> spans;
          spans.clear();
          s.regex->find_matches(t, spans);
          for (const auto& sp : spans)
            r += sp.is_match ? std::string_view(s.content) : std::string_view(t).substr(sp.start, sp.end - sp.start);
        } else {
          size_t done = 0;
          for (size_t at = t.find(s.pattern); at != std::string::npos; at = t.find(s.pattern, done)) {
            r.append(t, done, at - done).append(s.content);
            done = at + s.pattern.size();
          }
          r.append(t, done);
        }
        t.swap(r);
      }
      return;
    case K::kStrip:
      for (auto& t : tokens) {
        const std::string& c = s.content;
        size_t a = 0, b = t.size();
        for (size_t k = 0; k < s.start && b - a >= c.size() && t.compare(a, c.size(), c) == 0; ++k) a += c.size();
        for (size_t k = 0; k < s.stop && b - a >= c.size() && t.compare(b - c.size(), c.size(), c) == 0; ++k)
          b -= c.size();
        t = t.substr(a, b - a);
      }
      return;
    case K::kMetaspace:
      for (size_t i = 0; i < tokens.size(); ++i) {
        std::string& t = tokens[i];
        std::string r;
        size_t done = 0;
        for (size_t at = t.find(s.content); at != std::string::npos; at = t.find(s.content, done)) {
          r.append(t, done, at - done);
          if (!(i == 0 && s.first_prefix)) r.push_back(' ');
          done = at + s.content.size();
        }
        r.append(t, done);
        t.swap(r);
      }
      return;
  }
}

std::string Decoder::decode(const std::vector<std::string_view>& tokens) const {
  std::string out;
  if (none_) {
    // `tokenizers` without a decoder joins the tokens with spaces.
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i) out.push_back(' ');
      out.append(tokens[i]);
    }
    return utf8::lossy(out);
  }
  std::vector<std::string> cur(tokens.begin(), tokens.end());
  for (const Step& s : steps_) run(s, cur);
  for (const auto& t : cur) out += t;
  // Ids can cut a character in the middle; like `tokenizers`, replace the
  // broken bytes with U+FFFD rather than return invalid UTF-8.
  return utf8::lossy(out);
}

}  // namespace cloze::tok
