// transformers' `tojson`: Python's json.dumps(x, ensure_ascii=False,
// indent=..., separators=..., sort_keys=...), byte for byte (", " and ": "
// spacing, keys in insertion order, floats as Python's repr).
#include <algorithm>
#include <cstdio>

#include "chat/builtins.h"
#include "chat/render_error.h"
#include "chat/unicode.h"

namespace cloze::chat {
namespace {

struct Dumper {
  bool ensure_ascii;
  bool pretty;
  std::string indent;
  std::string item_sep, key_sep;
  bool sort_keys;
  std::string out;
  int depth = 0;

  void string(const std::string& s) {
    out += '"';
    for (char32_t c : utf8_decode(s)) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default: {
          char b[16];
          if (c < 0x20 || (ensure_ascii && c >= 0x7F)) {
            if (c >= 0x10000) {
              char32_t v = c - 0x10000;
              std::snprintf(b, sizeof b, "\\u%04x\\u%04x", 0xD800 + static_cast<unsigned>(v >> 10),
                            0xDC00 + static_cast<unsigned>(v & 0x3FF));
            } else {
              std::snprintf(b, sizeof b, "\\u%04x", static_cast<unsigned>(c));
            }
            out += b;
          } else {
            utf8_append(out, c);
          }
        }
      }
    }
    out += '"';
  }

  void newline() {
    out += '\n';
    for (int i = 0; i < depth; ++i) out += indent;
  }

  void value(const Value& v) {
    if (depth > 200) throw RenderError("tojson: value nests too deeply");
    switch (v.kind()) {
      case Value::Kind::None: out += "null"; return;
      case Value::Kind::Bool: out += v.as_bool() ? "true" : "false"; return;
      case Value::Kind::Int: out += std::to_string(v.as_int()); return;
      case Value::Kind::Float: {
        double d = v.as_double();
        if (d != d) out += "NaN";
        else if (d == 1.0 / 0.0) out += "Infinity";
        else if (d == -1.0 / 0.0) out += "-Infinity";
        else out += float_repr(d);
        return;
      }
      case Value::Kind::String: string(v.str()); return;
      case Value::Kind::List: {
        const auto& items = v.items();
        if (items.empty()) { out += "[]"; return; }
        out += '[';
        ++depth;
        for (size_t i = 0; i < items.size(); ++i) {
          if (i) out += item_sep;
          if (pretty) newline();
          value(items[i]);
        }
        --depth;
        if (pretty) newline();
        out += ']';
        return;
      }
      case Value::Kind::Dict: {
        std::vector<const std::pair<std::string, Value>*> items;
        for (const auto& kv : v.dict().items) items.push_back(&kv);
        if (items.empty()) { out += "{}"; return; }
        if (sort_keys)
          std::stable_sort(items.begin(), items.end(), [](auto* a, auto* b) { return a->first < b->first; });
        out += '{';
        ++depth;
        for (size_t i = 0; i < items.size(); ++i) {
          if (i) out += item_sep;
          if (pretty) newline();
          string(items[i]->first);
          out += key_sep;
          value(items[i]->second);
        }
        --depth;
        if (pretty) newline();
        out += '}';
        return;
      }
      default: throw RenderError("Object of type " + v.type_name() + " is not JSON serializable");
    }
  }
};

}  // namespace

std::string json_dumps(const Value& v, bool ensure_ascii, const Value& indent, const Value& separators, bool sort_keys) {
  Dumper d;
  d.ensure_ascii = ensure_ascii;
  d.sort_keys = sort_keys;
  d.pretty = !indent.is_none() && !indent.is_undefined();
  if (d.pretty) {
    if (indent.is_string()) d.indent = indent.str();
    else if (indent.is_number()) d.indent = std::string(static_cast<size_t>(std::max<int64_t>(0, std::min<int64_t>(indent.as_int(), 1000))), ' ');
    else throw RenderError("tojson: indent must be an int or a string, not " + indent.type_name());
  }
  d.item_sep = d.pretty ? "," : ", ";
  d.key_sep = ": ";
  if (!separators.is_none() && !separators.is_undefined()) {
    if (!separators.is_list() || separators.items().size() != 2 || !separators.items()[0].is_string() ||
        !separators.items()[1].is_string())
      throw RenderError("tojson: separators must be a pair of strings");
    d.item_sep = separators.items()[0].str();
    d.key_sep = separators.items()[1].str();
  }
  d.value(v);
  return d.out;
}

}  // namespace cloze::chat
