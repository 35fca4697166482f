#include "tokenizer/added_tokens.h"

#include <algorithm>
#include <map>

#include "cloze/error.h"
#include "tokenizer/json_load.h"
#include "tokenizer/utf8.h"

namespace cloze::tok {

AddedTokens AddedTokens::from_json(const nlohmann::json* list, const std::string& what, const Normalizer& normalizer) {
  AddedTokens a;
  if (!list || list->is_null()) return a;
  if (!list->is_array()) throw Error(what + ": added_tokens: expected an array, found " + json_type_name(*list));
  for (size_t i = 0; i < list->size(); ++i) {
    const nlohmann::json& e = (*list)[i];
    const std::string path = "added_tokens[" + std::to_string(i) + "]";
    if (!e.is_object()) throw Error(what + ": " + path + ": expected an object, found " + json_type_name(e));
    AddedToken t;
    const nlohmann::json* id = find(e, "id");
    if (!id || !id->is_number_integer() || id->get<int64_t>() < 0 || id->get<int64_t>() > INT32_MAX)
      throw Error(what + ": " + path + ".id: expected a non-negative integer, found " +
                  (id ? id->dump() : "nothing"));
    t.id = static_cast<int32_t>(id->get<int64_t>());
    t.content = get_string(e, "content", what, path);
    if (auto bad = utf8::first_invalid(t.content))
      throw Error(what + ": " + path + ".content: invalid UTF-8 at byte " + std::to_string(*bad));
    t.special = get_bool(e, "special", false, what, path);
    t.single_word = get_bool(e, "single_word", false, what, path);
    t.lstrip = get_bool(e, "lstrip", false, what, path);
    t.rstrip = get_bool(e, "rstrip", false, what, path);
    t.normalized = get_bool(e, "normalized", !t.special, what, path);
    if (t.content.empty()) continue;  // `tokenizers` ignores empty added tokens
    if (auto it = a.by_id_.find(t.id); it != a.by_id_.end())
      throw Error(what + ": " + path + ": duplicate id " + std::to_string(t.id) + " (also used by \"" +
                  a.tokens_[it->second].content + "\")");
    if (a.by_content_.count(t.content))
      throw Error(what + ": " + path + ": duplicate added token \"" + t.content + "\"");
    a.by_id_[t.id] = a.tokens_.size();
    a.by_content_[t.content] = a.tokens_.size();
    a.max_id_ = std::max(a.max_id_, t.id);
    a.tokens_.push_back(std::move(t));
  }
  std::string scratch;
  for (size_t k = 0; k < a.tokens_.size(); ++k) {
    const AddedToken& t = a.tokens_[k];
    Matcher& m = t.normalized ? a.norm_ : a.raw_;
    m.patterns.emplace_back(t.normalized ? std::string(normalizer.apply(t.content, scratch)) : t.content);
    m.token.push_back(k);
  }
  build(a.raw_);
  build(a.norm_);
  return a;
}

void AddedTokens::build(Matcher& m) {
  // Build with per-node maps, then flatten into sorted edge ranges.
  std::vector<std::map<uint8_t, uint32_t>> kids(1);
  std::vector<int32_t> pattern(1, -1);
  for (uint32_t p = 0; p < m.patterns.size(); ++p) {
    uint32_t node = 0;
    for (unsigned char c : m.patterns[p]) {
      auto [it, fresh] = kids[node].try_emplace(c, uint32_t(kids.size()));
      if (fresh) { kids.emplace_back(); pattern.push_back(-1); }
      node = it->second;
    }
    if (node != 0 && pattern[node] < 0) pattern[node] = int32_t(p);  // first of equal contents wins
  }
  m.nodes.assign(kids.size(), {});
  m.edges.clear();
  for (size_t n = 0; n < kids.size(); ++n) {
    m.nodes[n].pattern = pattern[n];
    m.nodes[n].first_child = uint32_t(m.edges.size());
    m.nodes[n].n_children = uint32_t(kids[n].size());
    for (auto [c, child] : kids[n]) m.edges.emplace_back(c, child);
  }
  m.root_child.fill(-1);
  for (auto [c, child] : kids[0]) m.root_child[c] = int32_t(child);
}

int32_t AddedTokens::Matcher::longest_at(std::string_view s, size_t i, size_t& len) const {
  int32_t node = root_child[static_cast<unsigned char>(s[i])];
  int32_t best = -1;
  for (size_t k = i + 1; node >= 0; ++k) {
    const Node& n = nodes[size_t(node)];
    if (n.pattern >= 0) { best = n.pattern; len = k - i; }
    if (k == s.size() || n.n_children == 0) break;
    const unsigned char c = static_cast<unsigned char>(s[k]);
    node = -1;
    for (uint32_t e = n.first_child; e < n.first_child + n.n_children; ++e)
      if (edges[e].first == c) { node = int32_t(edges[e].second); break; }
  }
  return best;
}

const AddedToken* AddedTokens::by_id(int32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

const AddedToken* AddedTokens::by_content(std::string_view content) const {
  auto it = by_content_.find(std::string(content));
  return it == by_content_.end() ? nullptr : &tokens_[it->second];
}

void AddedTokens::split(std::string_view s, bool normalized_pass, bool skip_special, std::vector<Segment>& out) const {
  const Matcher& m = matcher(normalized_pass);
  size_t start_offset = 0;  // end of the last accepted token
  size_t pos = 0;           // where the search resumes
  while (pos < s.size()) {
    // Leftmost-longest: the first position where any pattern matches, and
    // the longest pattern there.
    size_t start = s.size(), len = 0;
    int32_t hit = -1;
    for (size_t i = pos; i < s.size() && hit < 0; ++i)
      if (m.root_child[static_cast<unsigned char>(s[i])] >= 0 && (hit = m.longest_at(s, i, len)) >= 0) start = i;
    if (hit < 0) break;
    const AddedToken& t = tokens_[m.token[size_t(hit)]];
    size_t stop = start + len;
    pos = stop;
    if (skip_special && t.special) continue;  // treated as plain text
    if (t.single_word) {
      // Only a whole word: no word character right before or after it.
      bool ok = true;
      if (start > 0) { size_t i = start; ok = !utf8::is_word_char(utf8::prev(s, i)); }
      if (ok && stop < s.size()) { size_t i = stop; ok = !utf8::is_word_char(utf8::next(s, i)); }
      if (!ok) continue;
    }
    if (t.lstrip) {
      // Swallow the whitespace before it, but not into the previous token.
      size_t i = start;
      while (i > start_offset) {
        size_t j = i;
        if (!utf8::is_white_space(utf8::prev(s, j))) break;
        i = j;
      }
      start = std::max(i, start_offset);
    }
    if (t.rstrip) {
      while (stop < s.size()) {
        size_t j = stop;
        if (!utf8::is_white_space(utf8::next(s, j))) break;
        stop = j;
      }
      pos = stop;
    }
    if (start > start_offset) out.push_back({s.substr(start_offset, start - start_offset), -1});
    out.push_back({s.substr(start, stop - start), t.id});
    start_offset = stop;
  }
  if (start_offset < s.size() || s.empty()) out.push_back({s.substr(start_offset), -1});
}

}  // namespace cloze::tok
