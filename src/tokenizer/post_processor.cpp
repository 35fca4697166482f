#include "tokenizer/post_processor.h"

#include "cloze/error.h"
#include "tokenizer/json_load.h"

namespace cloze::tok {

namespace {

std::vector<int32_t> special_ids(const nlohmann::json& specials, const std::string& name, const std::string& what,
                                 const std::string& path) {
  const nlohmann::json* s = find(specials, name.c_str());
  if (!s) throw Error(what + ": " + path + ".special_tokens: no entry for \"" + name + "\" used in the template");
  const nlohmann::json* ids = find(*s, "ids");
  if (!ids || !ids->is_array())
    throw Error(what + ": " + path + ".special_tokens[\"" + name + "\"].ids: expected an array of ids");
  std::vector<int32_t> out;
  for (const auto& v : *ids) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > INT32_MAX)
      throw Error(what + ": " + path + ".special_tokens[\"" + name + "\"].ids: expected non-negative integers, found " +
                  v.dump());
    out.push_back(static_cast<int32_t>(v.get<int64_t>()));
  }
  return out;
}

}  // namespace

// One template ("single" or "pair"): its pieces in order, each
// {"SpecialToken": {"id": name}} or {"Sequence": {"id": "A" | "B"}}.
PostProcessor::Template PostProcessor::parse_template(const nlohmann::json& pieces, const nlohmann::json& specials,
                                                      size_t sequences, const std::string& what,
                                                      const std::string& path) {
  if (!pieces.is_array())
    throw Error(what + ": " + path + ": expected an array of template pieces, found " + json_type_name(pieces));
  Template t;
  std::string seen;  // the sequence ids placed so far, in order ("A", "AB")
  for (size_t i = 0; i < pieces.size(); ++i) {
    const nlohmann::json& piece = pieces[i];
    const std::string ppath = path + "[" + std::to_string(i) + "]";
    if (const auto* st = find(piece, "SpecialToken")) {
      const auto ids = special_ids(specials, get_string(*st, "id", what, ppath + ".SpecialToken"), what,
                                   path.substr(0, path.rfind('.')));
      auto& dst = seen.empty() ? t.before : seen.size() < sequences ? t.between : t.after;
      dst.insert(dst.end(), ids.begin(), ids.end());
    } else if (const auto* sq = find(piece, "Sequence")) {
      const std::string id = get_string(*sq, "id", what, ppath + ".Sequence");
      const std::string expect = seen.empty() ? "A" : "B";
      if (seen.size() == sequences || id != expect)
        throw Error(what + ": " + ppath + ": unsupported template: expected " +
                    (seen.size() == sequences ? std::string("no more sequences") : "sequence \"" + expect + "\"") +
                    ", found sequence \"" + id + "\"");
      seen += id;
    } else {
      throw Error(what + ": " + ppath + ": expected {\"SpecialToken\": ...} or {\"Sequence\": ...}, found " +
                  piece.dump());
    }
  }
  if (seen.size() != sequences)
    throw Error(what + ": " + path + ": the template places " + std::to_string(seen.size()) + " of its " +
                std::to_string(sequences) + " sequence(s)");
  return t;
}

void PostProcessor::parse_into(const nlohmann::json& j, const std::string& what, const std::string& path,
                               std::vector<Processor>& out) {
  if (j.is_null()) return;
  const std::string type = get_type(j, what, path);
  if (type == "ByteLevel") return;  // offsets only
  if (type == "Sequence") {
    const nlohmann::json* list = find(j, "processors");
    if (!list || !list->is_array())
      throw Error(what + ": " + path + ".processors: expected an array, found " +
                  (list ? json_type_name(*list) : "nothing"));
    for (size_t i = 0; i < list->size(); ++i)
      parse_into((*list)[i], what, path + ".processors[" + std::to_string(i) + "]", out);
    return;
  }
  if (type == "TemplateProcessing") {
    static const nlohmann::json kEmpty = nlohmann::json::object();
    const nlohmann::json* specials = find(j, "special_tokens");
    if (!specials) specials = &kEmpty;
    const nlohmann::json* single = find(j, "single");
    if (!single) throw Error(what + ": " + path + ": missing field \"single\"");
    Processor p;
    p.single = parse_template(*single, *specials, 1, what, path + ".single");
    // Missing, null or [] (as some files write it): single texts only.
    if (const nlohmann::json* pair = find(j, "pair"); pair && !pair->is_null() && !(pair->is_array() && pair->empty())) {
      p.pair = parse_template(*pair, *specials, 2, what, path + ".pair");
    } else {
      p.has_pair = false;
    }
    out.push_back(std::move(p));
    return;
  }
  throw Error(what + ": " + path + ": unsupported post_processor type \"" + type +
              "\" (supported: ByteLevel, TemplateProcessing, Sequence, null)");
}

PostProcessor PostProcessor::from_json(const nlohmann::json& j, const std::string& what, const std::string& path) {
  PostProcessor p;
  parse_into(j, what, path, p.processors_);
  return p;
}

PostProcessor PostProcessor::bos_eos(std::optional<int32_t> bos, std::optional<int32_t> eos) {
  Processor p;
  if (bos) p.single.before = p.pair.before = {*bos};
  if (eos) p.single.after = p.pair.after = {*eos};
  if (eos) p.pair.between.push_back(*eos);
  if (bos) p.pair.between.push_back(*bos);
  PostProcessor out;
  out.processors_.push_back(std::move(p));
  return out;
}

void PostProcessor::apply(std::vector<int32_t>& ids) const {
  for (const Processor& p : processors_) {
    ids.insert(ids.begin(), p.single.before.begin(), p.single.before.end());
    ids.insert(ids.end(), p.single.after.begin(), p.single.after.end());
  }
}

std::vector<int32_t> PostProcessor::apply_pair(const std::vector<int32_t>& a, const std::vector<int32_t>& b) const {
  std::vector<int32_t> left = a, right = b;
  for (const Processor& p : processors_) {
    if (!p.has_pair) throw Error("this tokenizer's TemplateProcessing has no \"pair\" template: it encodes single texts only");
    std::vector<int32_t> l = p.pair.before;
    l.insert(l.end(), left.begin(), left.end());
    l.insert(l.end(), p.pair.between.begin(), p.pair.between.end());
    right.insert(right.end(), p.pair.after.begin(), p.pair.after.end());
    left.swap(l);
  }
  left.insert(left.end(), right.begin(), right.end());
  return left;
}

}  // namespace cloze::tok
