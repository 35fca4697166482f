#include "tokenizer/json_load.h"

#include "cloze/error.h"

namespace cloze::tok {

using nlohmann::json;

namespace {

// SAX handler: builds a DOM like nlohmann's own parser, except that the
// values of root.model.vocab (an object) and root.model.merges (an array)
// go into TokenizerFile's vectors. If either has another type, it is built
// into the DOM like anything else and the loader reports the wrong type.
class Handler : public nlohmann::json_sax<json> {
 public:
  Handler(TokenizerFile& out, const std::string& what) : out_(out), what_(what) {}

  std::string error;  // set when we stop the parse ourselves

  bool null() override { return value(json(nullptr), "null"); }
  bool boolean(bool v) override { return value(json(v), "a boolean"); }
  bool number_integer(number_integer_t v) override {
    if (mode_ == Mode::kVocab) { out_.vocab.emplace_back(std::move(key_), v); return true; }
    return value(json(v), "a number");
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (mode_ == Mode::kVocab) {
      if (v > uint64_t(INT64_MAX)) return fail_vocab("an id that fits in 64 bits");
      out_.vocab.emplace_back(std::move(key_), static_cast<int64_t>(v));
      return true;
    }
    return value(json(v), "a number");
  }
  bool number_float(number_float_t v, const string_t&) override { return value(json(v), "a float"); }
  bool binary(binary_t&) override { return value(json(nullptr), "binary"); }
  bool string(string_t& s) override {
    if (mode_ == Mode::kMerges) {
      // "a b": exactly one space separates the two tokens (a byte-level
      // vocabulary never contains a literal space).
      const size_t sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
        return fail_merge("\"a b\" (two tokens separated by one space), found \"" + s + "\"");
      out_.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
      return true;
    }
    if (mode_ == Mode::kMergePair) {
      if (pair_n_ >= 2) return fail_merge("a pair of two strings, found more than two elements");
      pair_[pair_n_++] = std::move(s);
      return true;
    }
    return value(json(std::move(s)), "a string");
  }
  bool start_object(std::size_t) override {
    if (mode_ != Mode::kDom) return mode_ == Mode::kVocab ? fail_vocab("an integer id, found an object")
                                                          : fail_merge("a string or a pair of strings, found an object");
    if (at_model_member("vocab")) {
      mode_ = Mode::kVocab;
      out_.vocab_streamed = true;
      out_.vocab.reserve(1 << 17);
      return true;
    }
    return open(json::object());
  }
  bool key(string_t& k) override {
    if (mode_ == Mode::kVocab) { key_ = std::move(k); return true; }
    stack_.back().key = std::move(k);
    return true;
  }
  bool end_object() override {
    if (mode_ == Mode::kVocab) { mode_ = Mode::kDom; return true; }
    stack_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override {
    if (mode_ == Mode::kVocab) return fail_vocab("an integer id, found an array");
    if (mode_ == Mode::kMerges) { mode_ = Mode::kMergePair; pair_n_ = 0; return true; }
    if (mode_ == Mode::kMergePair) return fail_merge("a pair of two strings, found a nested array");
    if (at_model_member("merges")) {
      mode_ = Mode::kMerges;
      out_.merges_streamed = true;
      out_.merges.reserve(1 << 17);
      return true;
    }
    return open(json::array());
  }
  bool end_array() override {
    if (mode_ == Mode::kMergePair) {
      if (pair_n_ != 2) return fail_merge("a pair of two strings, found " + std::to_string(pair_n_) + " element(s)");
      out_.merges.emplace_back(std::move(pair_[0]), std::move(pair_[1]));
      mode_ = Mode::kMerges;
      return true;
    }
    if (mode_ == Mode::kMerges) { mode_ = Mode::kDom; return true; }
    stack_.pop_back();
    return true;
  }
  bool parse_error(std::size_t pos, const std::string&, const nlohmann::detail::exception& ex) override {
    if (error.empty())
      error = what_ + ": not valid JSON (truncated or corrupt file?) near byte " + std::to_string(pos) +
              ": " + ex.what();
    return false;
  }

 private:
  enum class Mode { kDom, kVocab, kMerges, kMergePair };
  struct Frame {
    json* node;
    std::string key;  // pending key when node is an object
  };

  // True when the container being opened is root.model.<name>.
  bool at_model_member(const char* name) const {
    return stack_.size() == 2 && stack_[0].node->is_object() && stack_[0].key == "model" &&
           stack_[1].node->is_object() && stack_[1].key == name;
  }
  json* insert(json v) {
    if (stack_.empty()) { out_.rest = std::move(v); return &out_.rest; }
    Frame& f = stack_.back();
    if (f.node->is_array()) { f.node->push_back(std::move(v)); return &f.node->back(); }
    json& slot = (*f.node)[f.key];
    slot = std::move(v);
    return &slot;
  }
  bool open(json v) {
    json* p = insert(std::move(v));
    stack_.push_back({p, {}});
    return true;
  }
  bool value(json v, const char* kind) {
    if (mode_ == Mode::kVocab) return fail_vocab(std::string("an integer id, found ") + kind);
    if (mode_ == Mode::kMerges || mode_ == Mode::kMergePair)
      return fail_merge(std::string("a string, found ") + kind);
    insert(std::move(v));
    return true;
  }
  bool fail_vocab(const std::string& expected) {
    error = what_ + ": model.vocab[\"" + key_ + "\"]: expected " + expected;
    return false;
  }
  bool fail_merge(const std::string& expected) {
    error = what_ + ": model.merges[" + std::to_string(out_.merges.size()) + "]: expected " + expected;
    return false;
  }

  TokenizerFile& out_;
  const std::string& what_;
  std::vector<Frame> stack_;
  Mode mode_ = Mode::kDom;
  std::string key_;
  std::string pair_[2];
  int pair_n_ = 0;
};

}  // namespace

TokenizerFile parse_tokenizer_file(std::string_view text, const std::string& what) {
  TokenizerFile out;
  Handler h(out, what);
  const bool ok = json::sax_parse(text.begin(), text.end(), &h, json::input_format_t::json, true);
  if (!ok || !h.error.empty())
    throw Error(h.error.empty() ? what + ": not valid JSON" : h.error);
  if (!out.rest.is_object())
    throw Error(what + ": expected a JSON object at the top level, found " + json_type_name(out.rest));
  return out;
}

const char* json_type_name(const json& j) {
  switch (j.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    case json::value_t::number_float: return "a float";
    default: return "an unknown value";
  }
}

const json* find(const json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

bool get_bool(const json& obj, const char* key, bool dflt, const std::string& what, const std::string& path) {
  const json* v = find(obj, key);
  if (!v || v->is_null()) return dflt;
  if (!v->is_boolean())
    throw Error(what + ": " + path + "." + key + ": expected true or false, found " + json_type_name(*v));
  return v->get<bool>();
}

std::string get_string(const json& obj, const char* key, const std::string& what, const std::string& path) {
  const json* v = find(obj, key);
  if (!v) throw Error(what + ": " + path + ": missing field \"" + key + "\"");
  if (!v->is_string())
    throw Error(what + ": " + path + "." + key + ": expected a string, found " + json_type_name(*v));
  return v->get<std::string>();
}

std::string get_type(const json& obj, const std::string& what, const std::string& path) {
  if (!obj.is_object())
    throw Error(what + ": " + path + ": expected an object with a \"type\", found " + json_type_name(obj));
  return get_string(obj, "type", what, path);
}

}  // namespace cloze::tok
