#include "cli/common.h"

#include <charconv>
#include <cmath>

#include "cloze/error.h"
#include "cloze/hub.h"

namespace cloze::cli {

std::unique_ptr<Model> load_model(const std::string& spec, size_t threads) {
  return Model::load(resolve_model(spec), {.threads = threads});
}

void add_precision_option(CLI::App* cmd, std::string& value) {
  cmd->add_option("--precision", value,
                  "exact (float32-accurate matmuls) or bf16 (activations rounded to bf16 on AMX: faster, "
                  "not exact; other kernel sets stay exact)")
      ->capture_default_str();
}

Precision precision_option(const std::string& value) {
  if (auto p = parse_precision(value)) return *p;
  throw Error("--precision: \"" + value + "\" is not a precision (use exact or bf16)");
}

Tokenizer load_tokenizer(const std::filesystem::path& model_dir) {
  const auto path = model_dir / "tokenizer.json";
  if (!std::filesystem::is_regular_file(path))
    throw Error(model_dir.string() + ": no tokenizer.json in the model directory (use --ids, or copy the model's "
                "tokenizer.json there)");
  return Tokenizer::from_file(path);
}

std::vector<int32_t> parse_ids(const std::string& list, const std::string& flag) {
  std::vector<int32_t> ids;
  size_t i = 0;
  while (i <= list.size()) {
    size_t j = list.find(',', i);
    if (j == std::string::npos) j = list.size();
    std::string_view tok(list.data() + i, j - i);
    while (!tok.empty() && tok.front() == ' ') tok.remove_prefix(1);
    while (!tok.empty() && tok.back() == ' ') tok.remove_suffix(1);
    int32_t v = 0;
    auto [p, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), v);
    if (tok.empty() || ec != std::errc() || p != tok.data() + tok.size() || v < 0)
      throw Error(flag + ": '" + std::string(tok) + "' (item " + std::to_string(ids.size() + 1) +
                  ") is not a non-negative token id; expected a comma-separated list such as 1,2,3");
    ids.push_back(v);
    i = j + 1;
  }
  return ids;
}

void append_float(std::string& out, float v) {
  if (!std::isfinite(v)) {  // JSON has no NaN/Infinity
    out += "null";
    return;
  }
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, p);
}

void append_ids(std::string& out, std::span<const int32_t> ids) {
  out += '[';
  char buf[16];
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ',';
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, ids[i]);
    out.append(buf, p);
  }
  out += ']';
}

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char ch : s) {
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (ch < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", ch);
          out += buf;
        } else {
          out += char(ch);
        }
    }
  }
  out += '"';
}

}  // namespace cloze::cli
