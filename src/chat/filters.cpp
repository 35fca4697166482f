// Jinja2 3.1's built-in filters (the ones templates use), with transformers'
// own `tojson`. Behaviour follows jinja2/filters.py.
#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "chat/builtins.h"
#include "chat/interpreter.h"
#include "chat/render_error.h"
#include "chat/unicode.h"

namespace cloze::chat {
namespace {

using FilterFn = Value (*)(Interpreter&, const Value&, CallArgs&);

Value arg_or(const CallArgs& a, size_t i, std::string_view name, const Value& def) {
  const Value* v = a.get(i, name);
  return v ? *v : def;
}

// "a.b.0" -> a getter as Jinja's make_attrgetter (item first, then attribute).
Value get_path(Interpreter& in, const Value& item, const Value& path) {
  if (path.is_number()) return in.getitem(item, Value(path.as_int()));
  if (!path.is_string()) throw RenderError("attribute must be a string");
  Value cur = item;
  std::string p = path.str();
  size_t start = 0;
  for (;;) {
    size_t dot = p.find('.', start);
    std::string part = p.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    cur = digits ? in.getitem(cur, Value(static_cast<int64_t>(std::stoll(part)))) : in.getitem(cur, Value(part));
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

// Case folding for sort / unique / min / max unless case_sensitive.
Value fold(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value(str_lower(v.str()));
  return v;
}

Value f_default(Interpreter&, const Value& v, CallArgs& a) {
  a.check(2, {"default_value", "boolean"});
  static const Value empty("");
  const Value& def = arg_or(a, 0, "default_value", empty);
  bool boolean = arg_or(a, 1, "boolean", Value(false)).truthy();
  if (v.is_undefined() || (boolean && !v.truthy())) return def;
  return v;
}

Value f_length(Interpreter&, const Value& v, CallArgs& a) {
  a.check(0, {});
  return Value(length(v));
}

Value f_string(Interpreter&, const Value& v, CallArgs& a) {
  a.check(0, {});
  return Value(to_str(v));
}

Value f_upper(Interpreter&, const Value& v, CallArgs& a) {
  a.check(0, {});
  return Value(str_upper(to_str(v)));
}

Value f_lower(Interpreter&, const Value& v, CallArgs& a) {
  a.check(0, {});
  return Value(str_lower(to_str(v)));
}

Value f_capitalize(Interpreter& in, const Value& v, CallArgs& a) {
  CallArgs none;
  none.callee = "capitalize";
  a.check(0, {});
  return in.call(method(Value(to_str(v)), "capitalize"), none);
}

// Jinja's title: capitalize every piece after -, whitespace, ( { [ <.
Value f_title(Interpreter&, const Value& v, CallArgs& a) {
  a.check(0, {});
  std::u32string u = utf8_decode(to_str(v));
  std::string out;
  auto sep = [](char32_t c) { return c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || is_space(c); };
  size_t i = 0;
  while (i < u.size()) {
    size_t j = i;
    bool is_sep = sep(u[i]);
    while (j < u.size() && sep(u[j]) == is_sep) ++j;
    for (size_t k = i; k < j; ++k) utf8_append(out, is_sep ? u[k] : k == i ? to_upper(u[k]) : to_lower(u[k]));
    i = j;
  }
  return Value(out);
}

Value f_trim(Interpreter& in, const Value& v, CallArgs& a) {
  a.check(1, {"chars"});
  CallArgs b;
  b.callee = "trim";
  if (const Value* c = a.get(0, "chars")) b.positional.push_back(*c);
  return in.call(method(Value(to_str(v)), "strip"), b);
}

Value f_tojson(Interpreter&, const Value& v, CallArgs& a) {
  a.check(4, {"ensure_ascii", "indent", "separators", "sort_keys"});
  bool ensure_ascii = arg_or(a, 0, "ensure_ascii", Value(false)).truthy();
  const Value& indent = arg_or(a, 1, "indent", Value::none());
  const Value& seps = arg_or(a, 2, "separators", Value::none());
  bool sort_keys = arg_or(a, 3, "sort_keys", Value(false)).truthy();
  return Value(json_dumps(v, ensure_ascii, indent, seps, sort_keys));
}

Value f_join(Interpreter& in, const Value& v, CallArgs& a) {
  a.check(2, {"d", "attribute"});
  std::string sep = to_str(arg_or(a, 0, "d", Value("")));
  const Value* attr = a.get(1, "attribute");
  std::string out;
  bool first = true;
  for (const auto& x : iterate(v)) {
    if (!first) out += sep;
    first = false;
    out += to_str(attr && !attr->is_none() ? get_path(in, x, *attr) : x);
    in.check_size(out.size());
  }
  return Value(out);
}

Value f_first(Interpreter&, const Value& v, CallArgs& a) {
  a.check(0, {});
  List items = iterate(v);
  if (items.empty()) return Value::undefined("No first item, sequence was empty.");
  return items.front();
}

Value f_last(Interpreter&, const Value& v, CallArgs& a) {
  a.check(0, {});
  List items = iterate(v);
  if (items.empty()) return Value::undefined("No last item, sequence was empty.");
  return items.back();
}

Value f_list(Interpreter&, const Value& v, CallArgs& a) {
  a.check(0, {});
  return Value::list(iterate(v));
}

// Python's int(str): optional sign, digits, underscores between digits, blanks around.
std::optional<int64_t> parse_int(const std::string& s, int base) {
  std::string t;
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  for (size_t i = b; i < e; ++i)
    if (s[i] != '_') t += s[i];
  if (t.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(t.c_str(), &end, base);
  if (*end || errno) return std::nullopt;
  return v;
}

std::optional<double> parse_float(const std::string& s) {
  std::string t;
  for (char c : s)
    if (c != '_') t += c;
  size_t b = t.find_first_not_of(" \t\n\r\f\v");
  if (b == std::string::npos) return std::nullopt;
  char* end = nullptr;
  double d = std::strtod(t.c_str() + b, &end);
  while (*end && std::isspace(static_cast<unsigned char>(*end))) ++end;
  if (*end || end == t.c_str() + b) return std::nullopt;
  return d;
}

Value f_int(Interpreter&, const Value& v, CallArgs& a) {
  a.check(2, {"default", "base"});
  Value def = arg_or(a, 0, "default", Value(int64_t{0}));
  int base = static_cast<int>(arg_or(a, 1, "base", Value(int64_t{10})).as_int());
  if (v.kind() == Value::Kind::Int || v.kind() == Value::Kind::Bool) return Value(v.as_int());
  if (v.kind() == Value::Kind::Float) {
    double d = v.as_double();
    if (!std::isfinite(d) || std::fabs(d) > 9.2e18) return def;
    return Value(static_cast<int64_t>(d));
  }
  if (v.is_string()) {
    if (auto i = parse_int(v.str(), base)) return Value(*i);
    if (auto d = parse_float(v.str()); d && std::isfinite(*d) && std::fabs(*d) < 9.2e18) return Value(static_cast<int64_t>(*d));
  }
  return def;
}

Value f_float(Interpreter&, const Value& v, CallArgs& a) {
  a.check(1, {"default"});
  Value def = arg_or(a, 0, "default", Value(0.0));
  if (v.is_number()) return Value(v.as_double());
  if (v.is_string()) {
    std::string low = str_lower(v.str());
    if (auto d = parse_float(v.str())) return Value(*d);
  }
  return def;
}

Value f_abs(Interpreter&, const Value& v, CallArgs& a) {
  a.check(0, {});
  if (v.kind() == Value::Kind::Float) return Value(std::fabs(v.as_double()));
  if (v.is_number()) {
    if (v.as_int() == INT64_MIN) throw RenderError("integer overflow");
    return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
  }
  throw RenderError("bad operand type for abs(): '" + v.type_name() + "'");
}

Value f_replace(Interpreter& in, const Value& v, CallArgs& a) {
  a.check(3, {"old", "new", "count"});
  CallArgs b;
  b.callee = "replace";
  const Value* o = a.get(0, "old");
  const Value* n = a.get(1, "new");
  if (!o || !n) throw RenderError("replace() needs the old and new strings");
  b.positional = {Value(to_str(*o)), Value(to_str(*n))};
  if (const Value* c = a.get(2, "count"); c && !c->is_none()) b.positional.push_back(*c);
  return in.call(method(Value(to_str(v)), "replace"), b);
}

Value f_items(Interpreter&, const Value& v, CallArgs& a) {
  a.check(0, {});
  if (v.is_undefined()) return Value::list({});
  if (!v.is_dict()) throw RenderError("Can only get item pairs from a mapping.");
  List out;
  for (const auto& [k, x] : v.dict().items) out.push_back(Value::list({Value(k), x}, true));
  return Value::list(std::move(out));
}

Value f_unique(Interpreter& in, const Value& v, CallArgs& a) {
  a.check(2, {"case_sensitive", "attribute"});
  bool cs = arg_or(a, 0, "case_sensitive", Value(false)).truthy();
  const Value* attr = a.get(1, "attribute");
  List out, seen;
  for (const auto& x : iterate(v)) {
    Value key = fold(attr && !attr->is_none() ? get_path(in, x, *attr) : x, cs);
    bool dup = false;
    for (const auto& s : seen) dup = dup || equals(s, key);
    if (dup) continue;
    seen.push_back(key);
    out.push_back(x);
  }
  return Value::list(std::move(out));
}

Value f_indent(Interpreter&, const Value& v, CallArgs& a) {
  a.check(3, {"width", "first", "blank"});
  const Value& w = arg_or(a, 0, "width", Value(int64_t{4}));
  bool first = arg_or(a, 1, "first", Value(false)).truthy();
  bool blank = arg_or(a, 2, "blank", Value(false)).truthy();
  std::string ind = w.is_string() ? w.str() : std::string(static_cast<size_t>(std::clamp<int64_t>(w.as_int(), 0, 1000)), ' ');
  std::string s = to_str(v) + "\n";  // Jinja's quirk, for splitlines
  std::vector<std::string> lines = split_lines(s);
  std::string rv;
  if (blank) {
    for (size_t i = 0; i < lines.size(); ++i) rv += (i ? "\n" + ind : "") + lines[i];
  } else {
    rv = lines.empty() ? "" : lines[0];
    for (size_t i = 1; i < lines.size(); ++i) rv += "\n" + (lines[i].empty() ? "" : ind) + lines[i];
  }
  if (first) rv = ind + rv;
  return Value(rv);
}

Value f_safe(Interpreter&, const Value& v, CallArgs& a) {
  a.check(0, {});
  return v;
}

Value f_escape(Interpreter&, const Value& v, CallArgs& a) {
  a.check(0, {});
  std::string out;
  for (char c : to_str(v)) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return Value(out);
}

// select / reject / selectattr / rejectattr share this.
Value select_impl(Interpreter& in, const Value& v, CallArgs& a, bool by_attr, bool keep) {
  size_t k = 0;
  Value attr;
  if (by_attr) {
    if (a.positional.empty()) throw RenderError("Missing parameter for attribute name");
    attr = a.positional[k++];
  }
  std::string test;
  if (a.positional.size() > k) {
    if (!a.positional[k].is_string()) throw RenderError("test name must be a string");
    test = a.positional[k++].str();
    if (!has_test(test)) throw RenderError("No test named '" + test + "'.");
  }
  CallArgs rest;
  rest.callee = test;
  rest.positional.assign(a.positional.begin() + static_cast<std::ptrdiff_t>(k), a.positional.end());
  rest.keyword = a.keyword;
  List out;
  for (const auto& x : iterate(v)) {
    Value probe = by_attr ? get_path(in, x, attr) : x;
    bool ok = test.empty() ? probe.truthy() : apply_test(in, test, probe, rest);
    if (ok == keep) out.push_back(x);
  }
  return Value::list(std::move(out));
}

Value f_select(Interpreter& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, false, true); }
Value f_reject(Interpreter& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, false, false); }
Value f_selectattr(Interpreter& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, true, true); }
Value f_rejectattr(Interpreter& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, true, false); }

Value f_map(Interpreter& in, const Value& v, CallArgs& a) {
  List out;
  const Value* attr = nullptr;
  for (const auto& [k, x] : a.keyword)
    if (k == "attribute") attr = &x;
  if (attr) {
    a.check(0, {"attribute", "default"});
    const Value* def = nullptr;
    for (const auto& [k, x] : a.keyword)
      if (k == "default") def = &x;
    for (const auto& x : iterate(v)) {
      Value r = get_path(in, x, *attr);
      out.push_back(def && r.is_undefined() ? *def : r);
    }
    return Value::list(std::move(out));
  }
  if (a.positional.empty() || !a.positional[0].is_string()) throw RenderError("map() needs a filter name or attribute=");
  std::string name = a.positional[0].str();
  if (!has_filter(name)) throw RenderError("No filter named '" + name + "'.");
  CallArgs rest;
  rest.callee = name;
  rest.positional.assign(a.positional.begin() + 1, a.positional.end());
  rest.keyword = a.keyword;
  for (const auto& x : iterate(v)) {
    CallArgs copy = rest;
    out.push_back(apply_filter(in, name, x, copy));
  }
  return Value::list(std::move(out));
}

Value f_reverse(Interpreter&, const Value& v, CallArgs& a) {
  a.check(0, {});
  if (v.is_string()) {
    std::u32string u = utf8_decode(v.str());
    std::reverse(u.begin(), u.end());
    return Value(utf8_encode(u));
  }
  List items = iterate(v);
  std::reverse(items.begin(), items.end());
  return Value::list(std::move(items));
}

Value f_sort(Interpreter& in, const Value& v, CallArgs& a) {
  a.check(3, {"reverse", "case_sensitive", "attribute"});
  bool rev = arg_or(a, 0, "reverse", Value(false)).truthy();
  bool cs = arg_or(a, 1, "case_sensitive", Value(false)).truthy();
  const Value* attr = a.get(2, "attribute");
  List items = iterate(v);
  std::vector<std::pair<Value, Value>> keyed;
  for (auto& x : items) keyed.emplace_back(fold(attr && !attr->is_none() ? get_path(in, x, *attr) : x, cs), x);
  std::stable_sort(keyed.begin(), keyed.end(), [rev](const auto& p, const auto& q) {
    return rev ? less_than(q.first, p.first) : less_than(p.first, q.first);
  });
  List out;
  for (auto& [k, x] : keyed) out.push_back(x);
  return Value::list(std::move(out));
}

Value f_dictsort(Interpreter&, const Value& v, CallArgs& a) {
  a.check(3, {"case_sensitive", "by", "reverse"});
  bool cs = arg_or(a, 0, "case_sensitive", Value(false)).truthy();
  std::string by = to_str(arg_or(a, 1, "by", Value("key")));
  bool rev = arg_or(a, 2, "reverse", Value(false)).truthy();
  if (!v.is_dict()) throw RenderError("dictsort needs a mapping");
  if (by != "key" && by != "value") throw RenderError("You can only sort by either \"key\" or \"value\"");
  List items;
  for (const auto& [k, x] : v.dict().items) items.push_back(Value::list({Value(k), x}, true));
  size_t pos = by == "key" ? 0 : 1;
  std::stable_sort(items.begin(), items.end(), [&](const Value& p, const Value& q) {
    Value x = fold(p.items()[pos], cs), y = fold(q.items()[pos], cs);
    return rev ? less_than(y, x) : less_than(x, y);
  });
  return Value::list(std::move(items));
}

Value f_sum(Interpreter& in, const Value& v, CallArgs& a) {
  a.check(2, {"attribute", "start"});
  const Value* attr = a.get(0, "attribute");
  Value acc = arg_or(a, 1, "start", Value(int64_t{0}));
  for (const auto& x : iterate(v)) acc = binary_op("+", acc, attr && !attr->is_none() ? get_path(in, x, *attr) : x);
  return acc;
}

Value minmax(Interpreter& in, const Value& v, CallArgs& a, bool want_max) {
  a.check(2, {"case_sensitive", "attribute"});
  bool cs = arg_or(a, 0, "case_sensitive", Value(false)).truthy();
  const Value* attr = a.get(1, "attribute");
  List items = iterate(v);
  if (items.empty()) return Value::undefined(std::string("No aggregated item, sequence was empty."));
  size_t best = 0;
  auto key = [&](const Value& x) { return fold(attr && !attr->is_none() ? get_path(in, x, *attr) : x, cs); };
  for (size_t i = 1; i < items.size(); ++i) {
    Value k = key(items[i]), b = key(items[best]);
    if (want_max ? less_than(b, k) : less_than(k, b)) best = i;
  }
  return items[best];
}

Value f_min(Interpreter& in, const Value& v, CallArgs& a) { return minmax(in, v, a, false); }
Value f_max(Interpreter& in, const Value& v, CallArgs& a) { return minmax(in, v, a, true); }

Value f_round(Interpreter&, const Value& v, CallArgs& a) {
  a.check(2, {"precision", "method"});
  int64_t precision = arg_or(a, 0, "precision", Value(int64_t{0})).as_int();
  std::string how = to_str(arg_or(a, 1, "method", Value("common")));
  if (!v.is_number()) throw RenderError("round() needs a number, not " + v.type_name());
  double scale = std::pow(10.0, static_cast<double>(precision));
  double x = v.as_double() * scale;
  double r;
  if (how == "common") r = std::nearbyint(x);  // Python's round(): half to even
  else if (how == "ceil") r = std::ceil(x);
  else if (how == "floor") r = std::floor(x);
  else throw RenderError("method must be 'common', 'ceil' or 'floor'");
  if (how == "common" && v.kind() != Value::Kind::Float) return Value(v.as_int());
  return Value(r / scale);
}

Value f_center(Interpreter&, const Value& v, CallArgs& a) {
  a.check(1, {"width"});
  int64_t width = std::min<int64_t>(arg_or(a, 0, "width", Value(int64_t{80})).as_int(), 1 << 20);
  std::u32string u = utf8_decode(to_str(v));
  int64_t pad = width - static_cast<int64_t>(u.size());
  if (pad <= 0) return Value(to_str(v));
  // Python puts the odd extra space on the left when the width is odd.
  int64_t left = pad / 2 + (pad & width & 1);
  return Value(std::string(static_cast<size_t>(left), ' ') + to_str(v) + std::string(static_cast<size_t>(pad - left), ' '));
}

Value f_wordcount(Interpreter&, const Value& v, CallArgs& a) {
  a.check(0, {});
  int64_t n = 0;
  bool in_word = false;
  for (char32_t c : utf8_decode(to_str(v))) {
    bool w = is_alpha(c) || is_digit(c) || c == '_';
    if (w && !in_word) ++n;
    in_word = w;
  }
  return Value(n);
}

Value f_batch(Interpreter&, const Value& v, CallArgs& a) {
  a.check(2, {"linecount", "fill_with"});
  const Value* n = a.get(0, "linecount");
  if (!n || !n->is_number() || n->as_int() <= 0) throw RenderError("batch() needs a positive line count");
  const Value* fill = a.get(1, "fill_with");
  List out, cur;
  for (const auto& x : iterate(v)) {
    cur.push_back(x);
    if (static_cast<int64_t>(cur.size()) == n->as_int()) {
      out.push_back(Value::list(std::move(cur)));
      cur.clear();
    }
  }
  if (!cur.empty()) {
    if (fill && !fill->is_none())
      while (static_cast<int64_t>(cur.size()) < n->as_int()) cur.push_back(*fill);
    out.push_back(Value::list(std::move(cur)));
  }
  return Value::list(std::move(out));
}

Value f_format(Interpreter&, const Value& v, CallArgs& a) {
  if (!a.keyword.empty() && !a.positional.empty())
    throw RenderError("can't handle positional and keyword arguments at the same time");
  if (!a.keyword.empty()) throw RenderError("format with keyword arguments is not supported");
  return Value(percent_format(to_str(v), Value::list(a.positional, true)));
}

Value f_attr(Interpreter& in, const Value& v, CallArgs& a) {
  a.check(1, {"name"});
  const Value* n = a.get(0, "name");
  if (!n || !n->is_string()) throw RenderError("attr() needs an attribute name");
  if (v.is_dict()) {  // only real attributes, not keys
    Value m = method(v, n->str());
    return m.is_undefined() ? Value::undefined("'dict object' has no attribute '" + n->str() + "'") : m;
  }
  return in.getattr(v, n->str());
}

struct FilterEntry {
  const char* name;
  FilterFn fn;
};

const FilterEntry kFilters[] = {
    {"abs", f_abs}, {"attr", f_attr}, {"batch", f_batch}, {"capitalize", f_capitalize},
    {"center", f_center}, {"count", f_length}, {"d", f_default}, {"default", f_default},
    {"dictsort", f_dictsort}, {"e", f_escape}, {"escape", f_escape}, {"first", f_first},
    {"float", f_float}, {"format", f_format}, {"indent", f_indent}, {"int", f_int},
    {"items", f_items}, {"join", f_join}, {"last", f_last}, {"length", f_length},
    {"list", f_list}, {"lower", f_lower}, {"map", f_map}, {"max", f_max}, {"min", f_min},
    {"reject", f_reject}, {"rejectattr", f_rejectattr}, {"replace", f_replace},
    {"reverse", f_reverse}, {"round", f_round}, {"safe", f_safe}, {"select", f_select},
    {"selectattr", f_selectattr}, {"sort", f_sort}, {"string", f_string}, {"sum", f_sum},
    {"title", f_title}, {"tojson", f_tojson}, {"trim", f_trim}, {"unique", f_unique},
    {"upper", f_upper}, {"wordcount", f_wordcount},
};

const FilterEntry* find_filter(std::string_view name) {
  for (const auto& f : kFilters)
    if (name == f.name) return &f;
  return nullptr;
}

}  // namespace

bool has_filter(std::string_view name) { return find_filter(name) != nullptr; }

Value apply_filter(Interpreter& in, std::string_view name, const Value& input, CallArgs& args) {
  in.step();
  const FilterEntry* f = find_filter(name);
  if (!f) throw RenderError("no filter named '" + std::string(name) + "'");
  args.callee = std::string(name);
  // Filters that stringify their input do so without complaint for
  // Undefined; the rest iterate it as empty, as Jinja2's Undefined allows.
  return f->fn(in, input, args);
}

}  // namespace cloze::chat
