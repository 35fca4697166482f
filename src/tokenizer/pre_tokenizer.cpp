#include "tokenizer/pre_tokenizer.h"

#include "cloze/error.h"
#include "tokenizer/json_load.h"
#include "tokenizer/utf8.h"

namespace cloze::tok {

namespace {

// The word splitting regex built into `tokenizers`' ByteLevel pre-tokenizer
// (GPT-2's), used only when a file sets ByteLevel's use_regex to true.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

}  // namespace

PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;
PreTokenizer::~PreTokenizer() = default;

void PreTokenizer::parse_into(const nlohmann::json& j, const std::string& what, const std::string& path,
                              std::vector<Step>& steps) {
  if (j.is_null()) return;
  const std::string type = get_type(j, what, path);
  if (type == "Sequence") {
    const nlohmann::json* list = find(j, "pretokenizers");
    if (!list || !list->is_array())
      throw Error(what + ": " + path + ".pretokenizers: expected an array, found " +
                  (list ? json_type_name(*list) : "nothing"));
    for (size_t i = 0; i < list->size(); ++i)
      parse_into((*list)[i], what, path + ".pretokenizers[" + std::to_string(i) + "]", steps);
  } else if (type == "Split") {
    Step s{Step::Kind::kSplit, nullptr};
    const nlohmann::json* pat = find(j, "pattern");
    if (!pat || !pat->is_object())
      throw Error(what + ": " + path + ".pattern: expected an object {\"Regex\": ...} or {\"String\": ...}, found " +
                  (pat ? json_type_name(*pat) : "nothing"));
    if (const auto* r = find(*pat, "Regex"); r && r->is_string())
      s.regex = std::make_unique<Regex>(r->get<std::string>(), false, what + ": " + path + ".pattern.Regex");
    else if (const auto* t = find(*pat, "String"); t && t->is_string())
      s.regex = std::make_unique<Regex>(t->get<std::string>(), true, what + ": " + path + ".pattern.String");
    else
      throw Error(what + ": " + path + ".pattern: expected a string under \"Regex\" or \"String\"");
    const std::string b = get_string(j, "behavior", what, path);
    if (b == "Removed") s.behavior = Behavior::kRemoved;
    else if (b == "Isolated") s.behavior = Behavior::kIsolated;
    else if (b == "MergedWithPrevious") s.behavior = Behavior::kMergedWithPrevious;
    else if (b == "MergedWithNext") s.behavior = Behavior::kMergedWithNext;
    else if (b == "Contiguous") s.behavior = Behavior::kContiguous;
    else
      throw Error(what + ": " + path + ".behavior: unknown split behavior \"" + b +
                  "\" (expected Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous)");
    s.invert = get_bool(j, "invert", false, what, path);
    steps.push_back(std::move(s));
  } else if (type == "ByteLevel") {
    Step s{Step::Kind::kByteLevel, nullptr};
    s.add_prefix_space = get_bool(j, "add_prefix_space", true, what, path);
    // trim_offsets only moves offsets, which we do not report.
    if (get_bool(j, "use_regex", true, what, path))
      s.regex = std::make_unique<Regex>(kGpt2Pattern, false, "ByteLevel built-in pattern");
    steps.push_back(std::move(s));
  } else if (type == "Metaspace") {
    Step s{Step::Kind::kMetaspace, nullptr};
    s.replacement = get_string(j, "replacement", what, path);
    size_t end = 0;
    if (s.replacement.empty() || (utf8::next(s.replacement, end), end != s.replacement.size()))
      throw Error(what + ": " + path + ".replacement: expected exactly one character, found \"" + s.replacement + "\"");
    if (const nlohmann::json* ps = find(j, "prepend_scheme"); ps && !ps->is_null()) {
      const std::string v = ps->is_string() ? ps->get<std::string>() : ps->dump();
      if (v == "always") s.prepend = Prepend::kAlways;
      else if (v == "first") s.prepend = Prepend::kFirst;
      else if (v == "never") s.prepend = Prepend::kNever;
      else
        throw Error(what + ": " + path + ".prepend_scheme: expected \"always\", \"first\" or \"never\", found " + v);
    } else {
      // Files written before prepend_scheme existed say add_prefix_space.
      s.prepend = get_bool(j, "add_prefix_space", true, what, path) ? Prepend::kAlways : Prepend::kNever;
    }
    s.split = get_bool(j, "split", true, what, path);
    steps.push_back(std::move(s));
  } else {
    throw Error(what + ": " + path + ": unsupported pre_tokenizer type \"" + type +
                "\" (supported: Split, ByteLevel, Metaspace, Sequence, null)");
  }
}

PreTokenizer PreTokenizer::from_json(const nlohmann::json& j, const std::string& what, const std::string& path) {
  PreTokenizer p;
  parse_into(j, what, path, p.steps_);
  for (const Step& s : p.steps_)
    if (s.kind == Step::Kind::kByteLevel) p.byte_level_ = true;
  return p;
}

// `tokenizers`' Metaspace: every " " becomes the replacement; the prepend
// scheme adds one in front unless the piece starts with it already (only
// for the piece at the start of the text with "first"); with split, the
// piece is cut before each replacement (MergedWithNext).
void PreTokenizer::metaspace(const Step& s, std::string_view piece, std::vector<std::string_view>& out,
                             std::deque<std::string>& owned, bool at_start) {
  if (piece.empty()) return;
  std::string& w = owned.emplace_back();
  const std::string_view rep = s.replacement;
  const bool prepend = (s.prepend == Prepend::kAlways || (s.prepend == Prepend::kFirst && at_start));
  if (prepend && !piece.starts_with(rep) && !(piece.front() == ' ')) w.append(rep);
  for (char c : piece) {
    if (c == ' ') w.append(rep);
    else w.push_back(c);
  }
  const std::string_view all = w;
  if (!s.split) { out.push_back(all); return; }
  size_t start = 0;
  for (size_t at = all.find(rep, 1); at != std::string_view::npos; at = all.find(rep, at + rep.size())) {
    out.push_back(all.substr(start, at - start));
    start = at;
  }
  out.push_back(all.substr(start));
}

void PreTokenizer::apply(const Step& s, std::string_view piece, std::vector<std::string_view>& out,
                         std::deque<std::string>& owned, bool at_start) {
  if (s.kind == Step::Kind::kMetaspace) { metaspace(s, piece, out, owned, at_start); return; }
  if (s.kind == Step::Kind::kByteLevel) {
    // Byte-to-alphabet mapping is implicit (the vocabulary is read in raw
    // bytes), so ByteLevel only adds the prefix space and optionally splits.
    if (s.add_prefix_space && (piece.empty() || piece.front() != ' ')) {
      std::string& w = owned.emplace_back();
      w.reserve(piece.size() + 1);
      w.push_back(' ');
      w.append(piece);
      piece = w;
    }
    if (!s.regex) { out.push_back(piece); return; }
  }
  thread_local std::vector<Regex::Span> spans;
  spans.clear();
  s.regex->find_matches(piece, spans);
  if (s.invert)
    for (auto& sp : spans) sp.is_match = !sp.is_match;
  // The delimiter behaviours of `tokenizers`' NormalizedString::split.
  auto emit = [&](size_t a, size_t b) {
    if (b > a) out.push_back(piece.substr(a, b - a));
  };
  const Behavior behavior = s.kind == Step::Kind::kByteLevel ? Behavior::kIsolated : s.behavior;
  switch (behavior) {
    case Behavior::kIsolated:
      for (const auto& sp : spans) emit(sp.start, sp.end);
      break;
    case Behavior::kRemoved:
      for (const auto& sp : spans)
        if (!sp.is_match) emit(sp.start, sp.end);
      break;
    case Behavior::kMergedWithPrevious:
    case Behavior::kContiguous: {
      // MergedWithPrevious: a match joins the piece before it (unless that
      // piece was itself a match). Contiguous: runs with equal is_match join.
      std::vector<std::pair<size_t, size_t>> acc;
      bool prev_match = false;
      for (const auto& sp : spans) {
        const bool join = behavior == Behavior::kContiguous ? sp.is_match == prev_match
                                                            : (sp.is_match && !prev_match);
        if (join && !acc.empty()) acc.back().second = sp.end;
        else acc.push_back({sp.start, sp.end});
        prev_match = sp.is_match;
      }
      for (auto [a, b] : acc) emit(a, b);
      break;
    }
    case Behavior::kMergedWithNext: {
      // A match joins the piece after it: the mirror image of the above.
      std::vector<std::pair<size_t, size_t>> acc;
      bool prev_match = false;
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (it->is_match && !prev_match && !acc.empty()) acc.back().first = it->start;
        else acc.push_back({it->start, it->end});
        prev_match = it->is_match;
      }
      for (auto it = acc.rbegin(); it != acc.rend(); ++it) emit(it->first, it->second);
      break;
    }
  }
}

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>& out,
                         std::deque<std::string>& owned, bool at_start) const {
  if (text.empty()) return;
  if (steps_.empty()) { out.push_back(text); return; }
  // Each step maps every current word to zero or more words.
  std::vector<std::string_view> cur{text}, next;
  for (size_t k = 0; k < steps_.size(); ++k) {
    std::vector<std::string_view>& dst = (k + 1 == steps_.size()) ? out : next;
    if (&dst == &next) next.clear();
    // Only the first word of the text still starts the text.
    for (size_t i = 0; i < cur.size(); ++i) apply(steps_[k], cur[i], dst, owned, at_start && i == 0);
    if (&dst == &next) cur.swap(next);
  }
}

}  // namespace cloze::tok
