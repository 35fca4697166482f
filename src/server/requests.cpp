#include "server/requests.h"

#include "cloze/error.h"
#include "cloze/records.h"
#include "server/api_error.h"

namespace cloze::server {

using nlohmann::json;

namespace {

constexpr int kMaxDepth = 32;  // our bodies are 3 deep; deeper is an attack or a mistake

[[noreturn]] void bad(const std::string& param, const std::string& message) {
  throw ApiError(400, param + ": " + message, param);
}

std::string type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    default: return "a number";
  }
}

// A second, event-driven pass over a body that failed to parse, tracking
// where in the document each event is, so the error can name the field:
// "texts[2]" rather than only a byte offset.
class Locator : public nlohmann::json_sax<json> {
 public:
  std::string path;  // where the parse failed; empty: at the top level

  bool null() override { return value(); }
  bool boolean(bool) override { return value(); }
  bool number_integer(number_integer_t) override { return value(); }
  bool number_unsigned(number_unsigned_t) override { return value(); }
  bool number_float(number_float_t, const string_t&) override { return value(); }
  bool string(string_t&) override { return value(); }
  bool binary(binary_t&) override { return value(); }
  bool start_object(std::size_t) override { return open(false); }
  bool key(string_t& k) override {
    frames_.back().key = k;
    return true;
  }
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override { return open(true); }
  bool end_array() override { return close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    for (auto& f : frames_) {
      // Appended piece by piece: GCC 12 warns (-Wrestrict, falsely) on "[" + s + "]".
      if (f.array) {
        path.push_back('[');
        path.append(std::to_string(f.index));
        path.push_back(']');
      } else if (!f.key.empty()) {
        if (!path.empty()) path.push_back('.');
        path.append(f.key);
      }
    }
    return false;
  }

 private:
  struct Frame {
    bool array;
    size_t index = 0;  // array: elements completed so far
    std::string key;   // object: the latest key
  };
  bool value() {
    if (!frames_.empty() && frames_.back().array) ++frames_.back().index;
    return true;
  }
  bool open(bool array) {
    frames_.push_back({array, 0, {}});
    return true;
  }
  bool close() {
    frames_.pop_back();
    return value();
  }
  std::vector<Frame> frames_;
};

void check_fields(const json& body, std::initializer_list<const char*> known) {
  if (!body.is_object()) throw ApiError(400, "the request body must be a JSON object, got " + type_name(body));
  for (auto& [k, v] : body.items()) {
    bool ok = false;
    for (const char* name : known) ok = ok || k == name;
    if (ok) continue;
    std::string list;
    for (const char* name : known) list += (list.empty() ? "" : ", ") + std::string(name);
    bad(k, "unknown field (this endpoint accepts " + list + ")");
  }
}

std::string get_text(const json& v, const std::string& param, const Limits& lim) {
  if (!v.is_string()) bad(param, "must be a string, got " + type_name(v));
  const auto& s = v.get_ref<const std::string&>();
  if (s.size() > lim.max_text_bytes)
    bad(param, "is " + std::to_string(s.size()) + " bytes, over the limit of " + std::to_string(lim.max_text_bytes));
  size_t at = 0;
  // The JSON parser already insists on UTF-8; checked again because the
  // classifier and tokenizer rely on it.
  if (!valid_utf8(s, &at)) bad(param, "is not valid UTF-8 (byte " + std::to_string(at) + ")");
  return s;
}

std::vector<std::string> get_texts(const json& v, const std::string& param, const Limits& lim) {
  if (!v.is_array()) bad(param, "must be an array of strings, got " + type_name(v));
  if (v.empty()) bad(param, "must hold at least one string");
  if (v.size() > lim.max_texts)
    bad(param, "holds " + std::to_string(v.size()) + " strings, over the limit of " + std::to_string(lim.max_texts) +
                   " per request");
  std::vector<std::string> out;
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) out.push_back(get_text(v[i], param + "[" + std::to_string(i) + "]", lim));
  return out;
}

int64_t get_int(const json& v, const std::string& param, int64_t lo, int64_t hi) {
  if (!v.is_number_integer()) bad(param, "must be an integer, got " + type_name(v));
  if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(hi)) bad(param, "must be at most " + std::to_string(hi));
  int64_t x = v.get<int64_t>();
  if (x < lo || x > hi) bad(param, "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " + std::to_string(x));
  return x;
}

std::vector<int32_t> get_ids(const json& v, const std::string& param, const Limits& lim) {
  if (v.empty()) bad(param, "is an empty list of token ids");
  if (lim.max_prompt_tokens && v.size() > lim.max_prompt_tokens)
    bad(param, "is " + std::to_string(v.size()) + " tokens, over the model's limit of " + std::to_string(lim.max_prompt_tokens));
  std::vector<int32_t> ids;
  ids.reserve(v.size());
  const int64_t hi = lim.vocab_size ? int64_t(lim.vocab_size) - 1 : INT32_MAX;
  for (size_t i = 0; i < v.size(); ++i) ids.push_back(int32_t(get_int(v[i], param + "[" + std::to_string(i) + "]", 0, hi)));
  return ids;
}

// "prompt": a string, a list of strings, a list of token ids, or a list of
// lists of token ids (the four forms OpenAI's API accepts).
std::vector<Prompt> get_prompts(const json& v, const Limits& lim) {
  if (v.is_string()) return {get_text(v, "prompt", lim)};
  if (!v.is_array()) bad("prompt", "must be a string, a list of strings or a list of token-id lists, got " + type_name(v));
  if (v.empty()) bad("prompt", "must hold at least one prompt");
  if (v[0].is_number()) return {get_ids(v, "prompt", lim)};
  if (v.size() > lim.max_texts)
    bad("prompt", "holds " + std::to_string(v.size()) + " prompts, over the limit of " + std::to_string(lim.max_texts) +
                      " per request");
  std::vector<Prompt> out;
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string param = "prompt[" + std::to_string(i) + "]";
    if (v[i].is_array()) out.emplace_back(get_ids(v[i], param, lim));
    else out.emplace_back(get_text(v[i], param, lim));
  }
  return out;
}

}  // namespace

std::string_view calibration_name(Calibration c) {
  switch (c) {
    case Calibration::Contextual: return "contextual";
    case Calibration::Pmi: return "pmi";
    default: return "none";
  }
}

json parse_body(std::string_view body) {
  try {
    return json::parse(body, [](int depth, json::parse_event_t, json&) {
      if (depth > kMaxDepth) throw ApiError(400, "the request body nests deeper than " + std::to_string(kMaxDepth) + " levels");
      return true;
    });
  } catch (const json::parse_error& e) {
    Locator where;
    json::sax_parse(body, &where);
    const std::string at = "at byte " + std::to_string(e.byte);
    const std::string what = e.what();
    // nlohmann reports bad text as "ill-formed UTF-8" or a lone surrogate.
    if (!where.path.empty() && (what.find("UTF-8") != std::string::npos || what.find("surrogate") != std::string::npos))
      bad(where.path, "is not valid UTF-8 (" + at + " of the body)");
    throw ApiError(400, "malformed JSON " + at + (where.path.empty() ? "" : " (in " + where.path + ")") + ": " + what,
                   where.path);
  } catch (const json::out_of_range& e) {
    // A number past double's range ("1e999"): nlohmann throws this instead
    // of a parse_error (found by fuzz/fuzz_requests).
    throw ApiError(400, std::string("malformed JSON: ") + e.what());
  }
}

ClassifyRequest parse_classify(const json& body, const Limits& lim) {
  check_fields(body, {"texts", "labels", "template", "calibrate", "chat", "system", "answer_prefix"});
  ClassifyRequest r;
  if (!body.contains("texts")) bad("texts", "is required: an array of the strings to classify");
  r.texts = get_texts(body["texts"], "texts", lim);
  if (auto it = body.find("labels"); it != body.end() && it->is_object()) {
    // Labels with verbalizers: {"label": "way" | ["way", ...], ...}.
    if (it->size() > lim.max_texts) bad("labels", "holds " + std::to_string(it->size()) + " labels, over the limit of " + std::to_string(lim.max_texts));
    r.labels.emplace();
    r.verbalizers.emplace();
    for (auto& [label, ways] : it->items()) {
      const std::string param = "labels." + label;
      r.labels->push_back(get_text(json(label), "labels", lim));
      r.verbalizers->push_back(ways.is_string() ? std::vector<std::string>{get_text(ways, param, lim)}
                                                : get_texts(ways, param, lim));
    }
  } else if (it != body.end() && !it->is_null()) {
    r.labels = get_texts(*it, "labels", lim);
  }
  if (auto it = body.find("template"); it != body.end() && !it->is_null()) {
    r.template_text = get_text(*it, "template", lim);
    try {
      PromptTemplate check(*r.template_text);
    } catch (const std::exception& e) {
      bad("template", e.what());
    }
  }
  if (auto it = body.find("calibrate"); it != body.end() && !it->is_null()) {
    if (!it->is_string()) bad("calibrate", "must be a string, got " + type_name(*it));
    const auto& s = it->get_ref<const std::string&>();
    if (s == "none") r.calibration = Calibration::None;
    else if (s == "contextual") r.calibration = Calibration::Contextual;
    else if (s == "pmi") r.calibration = Calibration::Pmi;
    else bad("calibrate", "'" + s + "' is not one of none, contextual, pmi");
  }
  if (auto it = body.find("chat"); it != body.end() && !it->is_null()) {
    if (!it->is_boolean()) bad("chat", "must be a boolean, got " + type_name(*it));
    r.chat = it->get<bool>();
  }
  if (auto it = body.find("system"); it != body.end() && !it->is_null()) r.system = get_text(*it, "system", lim);
  if (auto it = body.find("answer_prefix"); it != body.end() && !it->is_null())
    r.answer_prefix = get_text(*it, "answer_prefix", lim);
  if (!r.chat && (r.system || !r.answer_prefix.empty()))
    bad(r.system ? "system" : "answer_prefix", "needs \"chat\": true");
  return r;
}

// A JSON number as a float option; NaN cannot travel in JSON, ranges are
// checked by cloze::validate.
static float get_number(const json& v, const std::string& param) {
  if (!v.is_number()) bad(param, "must be a number, got " + type_name(v));
  return v.get<float>();
}

// "stop": one string or a list of at most 16. OpenAI allows 4, but
// lm-evaluation-harness's local-completions sends a task's whole `until` list
// plus the EOS string (models/utils.py handle_stop_sequences), uncapped.
static std::vector<std::string> get_stops(const json& v, const Limits& lim) {
  if (v.is_string()) return {get_text(v, "stop", lim)};
  if (!v.is_array()) bad("stop", "must be a string or a list of strings, got " + type_name(v));
  if (v.size() > 16) bad("stop", "holds " + std::to_string(v.size()) + " strings, over the limit of 16");
  std::vector<std::string> out;
  for (size_t i = 0; i < v.size(); ++i) out.push_back(get_text(v[i], "stop[" + std::to_string(i) + "]", lim));
  return out;
}

void refuse_unsupported_sampling(const json& body) {
  for (const char* one : {"n", "best_of"})
    if (auto it = body.find(one); it != body.end() && !it->is_null() && get_int(*it, one, 1, 1) != 1) bad(one, "must be 1");
  for (const char* num : {"presence_penalty", "frequency_penalty"}) {
    auto it = body.find(num);
    if (it == body.end() || it->is_null()) continue;
    if (!it->is_number()) bad(num, "must be a number, got " + type_name(*it));
    if (it->get<double>() != 0) bad(num, "is not supported by this server (only 0)");
  }
  if (auto it = body.find("logit_bias"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) bad("logit_bias", "must be an object, got " + type_name(*it));
    if (!it->empty()) bad("logit_bias", "is not supported by this server (only {})");
  }
}

void parse_stream(const json& body, CompletionRequest& r) {
  if (auto it = body.find("stream"); it != body.end() && !it->is_null()) {
    if (!it->is_boolean()) bad("stream", "must be a boolean, got " + type_name(*it));
    r.stream = it->get<bool>();
  }
  if (auto it = body.find("stream_options"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) bad("stream_options", "must be an object, got " + type_name(*it));
    if (!r.stream) bad("stream_options", "needs \"stream\": true");
    for (const auto& [k, v] : it->items()) {
      if (k != "include_usage") bad("stream_options." + k, "unknown field (stream_options accepts include_usage)");
      if (!v.is_boolean()) bad("stream_options.include_usage", "must be a boolean, got " + type_name(v));
      r.include_usage = v.get<bool>();
    }
  }
}

CompletionRequest parse_completion(const json& body, const Limits& lim) {
  // Penalties and logit_bias are accepted at their defaults (clients send
  // them); any other value is refused, not ignored.
  check_fields(body, {"model", "prompt", "max_tokens", "echo", "logprobs", "n", "best_of", "stream", "stream_options",
                      "temperature", "top_p", "top_k", "min_p", "presence_penalty", "frequency_penalty", "stop", "seed",
                      "user", "logit_bias"});
  CompletionRequest r;
  if (auto it = body.find("model"); it != body.end() && !it->is_null()) {
    if (!it->is_string()) bad("model", "must be a string, got " + type_name(*it));
    r.model = it->get<std::string>();
  }
  if (!body.contains("prompt")) bad("prompt", "is required");
  r.prompts = get_prompts(body["prompt"], lim);
  if (auto it = body.find("max_tokens"); it != body.end() && !it->is_null())
    r.max_tokens = size_t(get_int(*it, "max_tokens", 0, INT32_MAX));
  if (auto it = body.find("echo"); it != body.end() && !it->is_null()) {
    if (!it->is_boolean()) bad("echo", "must be a boolean, got " + type_name(*it));
    r.echo = it->get<bool>();
  }
  if (auto it = body.find("logprobs"); it != body.end() && !it->is_null())
    r.logprobs = int(get_int(*it, "logprobs", 0, 20));
  refuse_unsupported_sampling(body);
  parse_stream(body, r);
  if (r.stream) {
    if (r.prompts.size() != 1) bad("stream", "streams one prompt; send the prompts in separate requests");
    if (r.max_tokens == 0) bad("stream", "needs max_tokens > 0 (nothing is generated with max_tokens 0)");
    if (r.echo) bad("echo", "is not supported with stream");
    if (r.logprobs) bad("logprobs", "is not supported with stream");
  }
  GenerateOptions& g = r.sampling;
  if (auto it = body.find("temperature"); it != body.end() && !it->is_null()) g.temperature = get_number(*it, "temperature");
  if (auto it = body.find("top_p"); it != body.end() && !it->is_null()) g.top_p = get_number(*it, "top_p");
  if (auto it = body.find("min_p"); it != body.end() && !it->is_null()) g.min_p = get_number(*it, "min_p");
  if (auto it = body.find("top_k"); it != body.end() && !it->is_null())
    g.top_k = size_t(get_int(*it, "top_k", 0, INT32_MAX));
  if (auto it = body.find("seed"); it != body.end() && !it->is_null())
    g.seed = uint64_t(get_int(*it, "seed", INT64_MIN, INT64_MAX));  // negative seeds wrap: still reproducible
  if (auto it = body.find("stop"); it != body.end() && !it->is_null()) g.stop = get_stops(*it, lim);
  if (auto it = body.find("user"); it != body.end() && !it->is_null() && !it->is_string())
    bad("user", "must be a string, got " + type_name(*it));
  // Ranges (temperature >= 0, top_p in (0, 1], ...) by the library's own
  // rules; its messages begin with the field's name.
  try {
    validate(g);
  } catch (const Error& e) {
    const std::string m = e.what();
    throw ApiError(400, m, m.substr(0, m.find(':')));
  }
  return r;
}

namespace fields {
std::string type_name(const json& v) { return server::type_name(v); }
void check(const json& body, std::initializer_list<const char*> known) { check_fields(body, known); }
std::string text(const json& v, const std::string& param, const Limits& lim) { return get_text(v, param, lim); }
std::vector<std::string> texts(const json& v, const std::string& param, const Limits& lim) {
  return get_texts(v, param, lim);
}
int64_t integer(const json& v, const std::string& param, int64_t lo, int64_t hi) { return get_int(v, param, lo, hi); }
std::vector<int32_t> ids(const json& v, const std::string& param, const Limits& lim) {
  if (!v.is_array()) server::bad(param, "must be a list of token ids, got " + server::type_name(v));
  return get_ids(v, param, lim);
}
bool boolean(const json& v, const std::string& param) {
  if (!v.is_boolean()) server::bad(param, "must be a boolean, got " + server::type_name(v));
  return v.get<bool>();
}
void bad(const std::string& param, const std::string& message) { server::bad(param, message); }
}  // namespace fields

}  // namespace cloze::server
