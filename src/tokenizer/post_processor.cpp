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

void PostProcessor::parse_into(const nlohmann::json& j, const std::string& what, const std::string& path,
                               std::vector<Template>& out) {
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
    const nlohmann::json* single = find(j, "single");
    if (!single || !single->is_array())
      throw Error(what + ": " + path + ".single: expected an array of template pieces");
    const nlohmann::json* specials = find(j, "special_tokens");
    static const nlohmann::json kEmpty = nlohmann::json::object();
    if (!specials) specials = &kEmpty;
    Template t;
    bool seen_sequence = false;
    for (size_t i = 0; i < single->size(); ++i) {
      const nlohmann::json& piece = (*single)[i];
      const std::string ppath = path + ".single[" + std::to_string(i) + "]";
      if (const auto* st = find(piece, "SpecialToken")) {
        const auto ids = special_ids(*specials, get_string(*st, "id", what, ppath + ".SpecialToken"), what, path);
        auto& dst = seen_sequence ? t.after : t.before;
        dst.insert(dst.end(), ids.begin(), ids.end());
      } else if (find(piece, "Sequence")) {
        if (seen_sequence)
          throw Error(what + ": " + ppath + ": a single-sequence template may hold the sequence only once");
        seen_sequence = true;
      } else {
        throw Error(what + ": " + ppath + ": expected {\"SpecialToken\": ...} or {\"Sequence\": ...}, found " +
                    piece.dump());
      }
    }
    if (!seen_sequence) throw Error(what + ": " + path + ".single: the template never places the sequence");
    out.push_back(std::move(t));
    return;
  }
  throw Error(what + ": " + path + ": unsupported post_processor type \"" + type +
              "\" (supported: ByteLevel, TemplateProcessing, Sequence, null)");
}

PostProcessor PostProcessor::from_json(const nlohmann::json& j, const std::string& what, const std::string& path) {
  PostProcessor p;
  parse_into(j, what, path, p.templates_);
  return p;
}

void PostProcessor::apply(std::vector<int32_t>& ids) const {
  for (const Template& t : templates_) {
    ids.insert(ids.begin(), t.before.begin(), t.before.end());
    ids.insert(ids.end(), t.after.begin(), t.after.end());
  }
}

}  // namespace cloze::tok
