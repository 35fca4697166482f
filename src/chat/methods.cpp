// The methods of str, list and dict that chat templates call, with Python's
// behaviour. Mutating methods exist only to fail as the immutable sandbox
// fails.
#include <algorithm>

#include "chat/builtins.h"
#include "chat/interpreter.h"
#include "chat/render_error.h"
#include "chat/unicode.h"

namespace cloze::chat {
namespace {

using Fn = std::function<Value(Interpreter&, CallArgs&)>;

const std::string& str_arg(const CallArgs& a, size_t i, std::string_view name, const char* method) {
  const Value* v = a.get(i, name);
  if (!v) throw RenderError(std::string(method) + "() missing required argument '" + std::string(name) + "'");
  if (!v->is_string()) throw RenderError(std::string(method) + "() argument must be str, not " + v->type_name());
  return v->str();
}

// Characters to strip: the argument's, or whitespace when absent / None.
std::u32string strip_impl(const std::string& s, const CallArgs& a, bool left, bool right, const char* method) {
  a.check(1, {"chars"});
  const Value* chars = a.get(0, "chars");
  std::u32string u = utf8_decode(s);
  std::u32string set;
  bool ws = !chars || chars->is_none();
  if (!ws) {
    if (!chars->is_string()) throw RenderError(std::string(method) + " arg must be None or str");
    set = utf8_decode(chars->str());
  }
  auto strip_char = [&](char32_t c) { return ws ? is_space(c) : set.find(c) != std::u32string::npos; };
  size_t b = 0, e = u.size();
  if (left)
    while (b < e && strip_char(u[b])) ++b;
  if (right)
    while (e > b && strip_char(u[e - 1])) --e;
  return u.substr(b, e - b);
}

Value split_impl(const std::string& s, const CallArgs& a, bool from_right) {
  a.check(2, {"sep", "maxsplit"});
  const Value* sep = a.get(0, "sep");
  const Value* maxv = a.get(1, "maxsplit");
  int64_t maxsplit = maxv && maxv->is_number() ? maxv->as_int() : -1;
  List out;
  if (!sep || sep->is_none()) {
    std::u32string u = utf8_decode(s);
    std::vector<std::pair<size_t, size_t>> words;
    size_t i = 0;
    while (i < u.size()) {
      while (i < u.size() && is_space(u[i])) ++i;
      if (i >= u.size()) break;
      size_t j = i;
      while (j < u.size() && !is_space(u[j])) ++j;
      words.emplace_back(i, j);
      i = j;
    }
    if (maxsplit >= 0 && static_cast<int64_t>(words.size()) > maxsplit + 1) {
      // The last (or first, for rsplit) piece keeps the rest of the text.
      if (!from_right) {
        size_t keep = static_cast<size_t>(maxsplit);
        for (size_t k = 0; k < keep; ++k)
          out.push_back(Value(utf8_encode(u.substr(words[k].first, words[k].second - words[k].first))));
        size_t start = words[keep].first, end = u.size();
        while (end > start && is_space(u[end - 1])) --end;
        out.push_back(Value(utf8_encode(u.substr(start, end - start))));
      } else {
        size_t first_kept = words.size() - static_cast<size_t>(maxsplit);
        size_t start = 0, end = words[first_kept - 1].second;
        while (start < end && is_space(u[start])) ++start;
        out.push_back(Value(utf8_encode(u.substr(start, end - start))));
        for (size_t k = first_kept; k < words.size(); ++k)
          out.push_back(Value(utf8_encode(u.substr(words[k].first, words[k].second - words[k].first))));
      }
      return Value::list(std::move(out));
    }
    for (auto [b, e] : words) out.push_back(Value(utf8_encode(u.substr(b, e - b))));
    return Value::list(std::move(out));
  }
  if (!sep->is_string()) throw RenderError("must be str or None, not " + sep->type_name());
  const std::string& d = sep->str();
  if (d.empty()) throw RenderError("empty separator");
  std::vector<std::string> parts;
  if (!from_right) {
    size_t pos = 0;
    int64_t n = 0;
    for (;;) {
      size_t f = (maxsplit < 0 || n < maxsplit) ? s.find(d, pos) : std::string::npos;
      if (f == std::string::npos) break;
      parts.push_back(s.substr(pos, f - pos));
      pos = f + d.size();
      ++n;
    }
    parts.push_back(s.substr(pos));
  } else {
    size_t end = s.size();
    int64_t n = 0;
    for (;;) {
      if (!(maxsplit < 0 || n < maxsplit) || end < d.size()) break;
      size_t f = s.rfind(d, end - d.size());
      if (f == std::string::npos) break;
      parts.insert(parts.begin(), s.substr(f + d.size(), end - f - d.size()));
      end = f;
      ++n;
    }
    parts.insert(parts.begin(), s.substr(0, end));
  }
  for (auto& p : parts) out.push_back(Value(std::move(p)));
  return Value::list(std::move(out));
}

// startswith / endswith: a prefix or a tuple of them.
bool affix(const std::string& s, const CallArgs& a, bool start, const char* method) {
  a.check(3, {});
  if (a.positional.empty()) throw RenderError(std::string(method) + "() takes at least 1 argument (0 given)");
  std::u32string u = utf8_decode(s);
  int64_t n = static_cast<int64_t>(u.size());
  int64_t b = 0, e = n;
  auto idx = [&](size_t i, int64_t def) {
    if (a.positional.size() <= i || a.positional[i].is_none()) return def;
    int64_t x = a.positional[i].as_int();
    if (x < 0) x += n;
    return std::clamp<int64_t>(x, 0, n);
  };
  b = idx(1, 0);
  e = idx(2, n);
  std::u32string part = b <= e ? u.substr(static_cast<size_t>(b), static_cast<size_t>(e - b)) : std::u32string();
  std::vector<std::u32string> cands;
  const Value& p = a.positional[0];
  if (p.is_string()) {
    cands.push_back(utf8_decode(p.str()));
  } else if (p.is_tuple()) {
    for (const auto& x : p.items()) {
      if (!x.is_string()) throw RenderError(std::string("tuple for ") + method + " must only contain str, not " + x.type_name());
      cands.push_back(utf8_decode(x.str()));
    }
  } else {
    throw RenderError(std::string(method) + " first arg must be str or a tuple of str, not " + p.type_name());
  }
  if (b > e) return false;
  for (const auto& c : cands) {
    if (c.size() > part.size()) continue;
    if (start ? part.compare(0, c.size(), c) == 0 : part.compare(part.size() - c.size(), c.size(), c) == 0) return true;
  }
  return false;
}

std::string title_case(const std::string& s) {
  std::string out;
  bool prev_cased = false;
  for (char32_t c : utf8_decode(s)) {
    utf8_append(out, prev_cased ? to_lower(c) : to_title(c));
    prev_cased = is_cased_lower(c) || is_cased_upper(c) || to_lower(c) != to_upper(c);
  }
  return out;
}

// str.format with {}, {0}, {name}, {{ and }} (no format specs).
std::string str_format(const std::string& fmt, const CallArgs& a) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    char c = fmt[i];
    if (c == '{' && i + 1 < fmt.size() && fmt[i + 1] == '{') { out += '{'; ++i; continue; }
    if (c == '}' && i + 1 < fmt.size() && fmt[i + 1] == '}') { out += '}'; ++i; continue; }
    if (c == '}') throw RenderError("Single '}' encountered in format string");
    if (c != '{') { out += c; continue; }
    size_t close = fmt.find('}', i);
    if (close == std::string::npos) throw RenderError("Single '{' encountered in format string");
    std::string field = fmt.substr(i + 1, close - i - 1);
    bool repr = false;
    if (field.size() >= 2 && field.compare(field.size() - 2, 2, "!r") == 0) { repr = true; field.resize(field.size() - 2); }
    else if (field.size() >= 2 && field.compare(field.size() - 2, 2, "!s") == 0) field.resize(field.size() - 2);
    if (field.find(':') != std::string::npos || field.find('!') != std::string::npos)
      throw RenderError("format specs in str.format are not supported: {" + field + "}");
    const Value* v = nullptr;
    if (field.empty()) {
      if (auto_index >= a.positional.size()) throw RenderError("Replacement index " + std::to_string(auto_index) + " out of range for positional args tuple");
      v = &a.positional[auto_index++];
    } else if (std::all_of(field.begin(), field.end(), [](char d) { return d >= '0' && d <= '9'; })) {
      size_t k = std::stoul(field);
      if (k >= a.positional.size()) throw RenderError("Replacement index " + field + " out of range for positional args tuple");
      v = &a.positional[k];
    } else {
      for (const auto& [name, x] : a.keyword)
        if (name == field) v = &x;
      if (!v) throw RenderError("KeyError: '" + field + "'");
    }
    out += repr ? to_repr(*v) : to_str(*v);
    i = close;
  }
  return out;
}

Value string_method(const std::string& s, const std::string& name) {
  Fn fn;
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    bool l = name != "rstrip", r = name != "lstrip";
    fn = [s, l, r, name](Interpreter&, CallArgs& a) { return Value(utf8_encode(strip_impl(s, a, l, r, name.c_str()))); };
  } else if (name == "split" || name == "rsplit") {
    bool right = name == "rsplit";
    fn = [s, right](Interpreter&, CallArgs& a) { return split_impl(s, a, right); };
  } else if (name == "startswith" || name == "endswith") {
    bool start = name == "startswith";
    fn = [s, start, name](Interpreter&, CallArgs& a) { return Value(affix(s, a, start, name.c_str())); };
  } else if (name == "upper") {
    fn = [s](Interpreter&, CallArgs& a) { a.check(0, {}); return Value(str_upper(s)); };
  } else if (name == "lower" || name == "casefold") {
    fn = [s](Interpreter&, CallArgs& a) { a.check(0, {}); return Value(str_lower(s)); };
  } else if (name == "title") {
    fn = [s](Interpreter&, CallArgs& a) { a.check(0, {}); return Value(title_case(s)); };
  } else if (name == "capitalize") {
    fn = [s](Interpreter&, CallArgs& a) {
      a.check(0, {});
      std::u32string u = utf8_decode(s);
      std::string out;
      for (size_t i = 0; i < u.size(); ++i) utf8_append(out, i == 0 ? to_title(u[i]) : to_lower(u[i]));
      return Value(out);
    };
  } else if (name == "replace") {
    fn = [s](Interpreter& in, CallArgs& a) {
      a.check(3, {"count"});
      const std::string& from = str_arg(a, 0, "old", "replace");
      const std::string& to = str_arg(a, 1, "new", "replace");
      const Value* cnt = a.get(2, "count");
      int64_t limit = cnt && cnt->is_number() ? cnt->as_int() : -1;
      std::string out;
      if (from.empty()) {  // Python inserts `to` between every character
        std::u32string u = utf8_decode(s);
        int64_t n = 0;
        for (size_t i = 0; i <= u.size(); ++i) {
          if (limit < 0 || n < limit) { out += to; ++n; }
          if (i < u.size()) utf8_append(out, u[i]);
          in.check_size(out.size());
        }
        return Value(out);
      }
      size_t pos = 0;
      int64_t n = 0;
      for (;;) {
        size_t f = (limit < 0 || n < limit) ? s.find(from, pos) : std::string::npos;
        if (f == std::string::npos) break;
        out.append(s, pos, f - pos);
        out += to;
        in.check_size(out.size());
        pos = f + from.size();
        ++n;
      }
      out.append(s, pos, std::string::npos);
      return Value(out);
    };
  } else if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
    fn = [s, name](Interpreter&, CallArgs& a) -> Value {
      a.check(1, {});
      const std::string& sub = str_arg(a, 0, "sub", name.c_str());
      if (name == "count") {
        if (sub.empty()) return Value(static_cast<int64_t>(utf8_decode(s).size()) + 1);
        int64_t n = 0;
        for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++n;
        return Value(n);
      }
      size_t f = name[0] == 'r' ? s.rfind(sub) : s.find(sub);
      if (f == std::string::npos) {
        if (name == "index" || name == "rindex") throw RenderError("substring not found");
        return Value(int64_t{-1});
      }
      return Value(static_cast<int64_t>(utf8_decode(std::string_view(s).substr(0, f)).size()));
    };
  } else if (name == "join") {
    fn = [s](Interpreter& in, CallArgs& a) {
      a.check(1, {});
      if (a.positional.empty()) throw RenderError("join() takes exactly one argument (0 given)");
      std::string out;
      bool first = true;
      for (const auto& x : iterate(a.positional[0])) {
        if (!x.is_string()) throw RenderError("sequence item: expected str instance, " + x.type_name() + " found");
        if (!first) out += s;
        first = false;
        out += x.str();
        in.check_size(out.size());
      }
      return Value(out);
    };
  } else if (name == "format") {
    fn = [s](Interpreter&, CallArgs& a) { return Value(str_format(s, a)); };
  } else if (name == "splitlines") {
    fn = [s](Interpreter&, CallArgs& a) {
      a.check(0, {});
      List out;
      for (auto& l : split_lines(s)) out.push_back(Value(std::move(l)));
      return Value::list(std::move(out));
    };
  } else if (name == "isdigit" || name == "isalpha" || name == "isspace" || name == "isalnum" ||
             name == "isupper" || name == "islower" || name == "isnumeric" || name == "isdecimal") {
    fn = [s, name](Interpreter&, CallArgs& a) {
      a.check(0, {});
      std::u32string u = utf8_decode(s);
      if (u.empty()) return Value(false);
      if (name == "isupper" || name == "islower") {
        bool any = false;
        for (char32_t c : u) {
          if (is_cased_upper(c)) { if (name == "islower") return Value(false); any = true; }
          if (is_cased_lower(c)) { if (name == "isupper") return Value(false); any = true; }
        }
        return Value(any);
      }
      for (char32_t c : u) {
        bool ok = name == "isalpha" ? is_alpha(c) : name == "isspace" ? is_space(c)
                  : name == "isalnum" ? (is_alpha(c) || is_digit(c)) : is_digit(c);
        if (!ok) return Value(false);
      }
      return Value(true);
    };
  } else {
    return Value();
  }
  return Value::callable("str." + name, std::move(fn));
}

bool is_mutator(const std::string& type, const std::string& name) {
  static const char* const kList[] = {"append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear"};
  static const char* const kDict[] = {"pop", "popitem", "update", "setdefault", "clear"};
  if (type == "list") {
    for (const char* m : kList) if (name == m) return true;
  } else {
    for (const char* m : kDict) if (name == m) return true;
  }
  return false;
}

}  // namespace

Value method(const Value& obj, const std::string& name) {
  if (obj.is_string()) return string_method(obj.str(), name);
  std::string type = obj.is_dict() ? "dict" : obj.is_list() ? obj.type_name() : "";
  if (type.empty()) return Value();
  if ((type == "list" || type == "dict") && is_mutator(type, name)) {
    return Value::callable(type + "." + name, [type, name](Interpreter&, CallArgs&) -> Value {
      throw RenderError("access to attribute '" + name + "' of '" + type + "' object is unsafe (the sandbox is immutable)");
    });
  }
  if (obj.is_dict()) {
    if (name == "items" || name == "keys" || name == "values") {
      return Value::callable("dict." + name, [obj, name](Interpreter&, CallArgs& a) {
        a.check(0, {});
        List out;
        for (const auto& [k, v] : obj.dict().items) {
          if (name == "items") out.push_back(Value::list({Value(k), v}, true));
          else if (name == "keys") out.push_back(Value(k));
          else out.push_back(v);
        }
        return Value::list(std::move(out));
      });
    }
    if (name == "get") {
      return Value::callable("dict.get", [obj](Interpreter&, CallArgs& a) {
        a.check(2, {});
        if (a.positional.empty()) throw RenderError("get expected at least 1 argument, got 0");
        const Value& key = a.positional[0];
        if (key.is_string())
          if (const Value* v = obj.dict().find(key.str())) return *v;
        return a.positional.size() > 1 ? a.positional[1] : Value::none();
      });
    }
    if (name == "copy") return Value::callable("dict.copy", [obj](Interpreter&, CallArgs&) { return obj; });
    return Value();
  }
  if (name == "index" || name == "count") {
    return Value::callable(type + "." + name, [obj, name](Interpreter&, CallArgs& a) -> Value {
      a.check(1, {});
      if (a.positional.empty()) throw RenderError(name + "() takes exactly one argument (0 given)");
      int64_t n = 0;
      for (size_t i = 0; i < obj.items().size(); ++i) {
        if (!equals(obj.items()[i], a.positional[0])) continue;
        if (name == "index") return Value(static_cast<int64_t>(i));
        ++n;
      }
      if (name == "index") throw RenderError(to_repr(a.positional[0]) + " is not in list");
      return Value(n);
    });
  }
  return Value();
}

}  // namespace cloze::chat
