// Values: construction, Python truthiness, str()/repr() and ==.
#include "chat/value.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "chat/render_error.h"
#include "chat/unicode.h"

namespace cloze::chat {

const Value* Dict::find(std::string_view key) const {
  for (const auto& [k, v] : items)
    if (k == key) return &v;
  return nullptr;
}

void Dict::set(std::string key, Value v) {
  for (auto& [k, old] : items)
    if (k == key) { old = std::move(v); return; }
  items.emplace_back(std::move(key), std::move(v));
}

Value Value::list(List items, bool tuple) {
  Value r;
  r.v_ = std::make_shared<const List>(std::move(items));
  r.tuple_ = tuple;
  return r;
}

Value Value::dict(Dict d) {
  Value r;
  r.v_ = std::make_shared<const Dict>(std::move(d));
  return r;
}

Value Value::name_space(Dict d) {
  Value r;
  r.v_ = std::make_shared<Dict>(std::move(d));
  return r;
}

Value Value::callable(std::string name, std::function<Value(Interpreter&, CallArgs&)> fn) {
  Value r;
  r.v_ = std::make_shared<const Callable>(Callable{std::move(name), std::move(fn)});
  return r;
}

Value::Kind Value::kind() const { return static_cast<Kind>(v_.index()); }

bool Value::is_number() const {
  auto k = kind();
  return k == Kind::Int || k == Kind::Float || k == Kind::Bool;
}

namespace {

template <class T, class V>
const T& get_or_throw(const V& v, const Value& self, const char* expected) {
  if (const T* p = std::get_if<T>(&v)) return *p;
  throw RenderError(std::string("expected ") + expected + ", got a value of type '" + self.type_name() + "'");
}

}  // namespace

bool Value::as_bool() const { return get_or_throw<bool>(v_, *this, "a boolean"); }

int64_t Value::as_int() const {
  if (kind() == Kind::Bool) return as_bool() ? 1 : 0;
  return get_or_throw<int64_t>(v_, *this, "an integer");
}

double Value::as_double() const {
  if (kind() == Kind::Float) return std::get<double>(v_);
  if (kind() != Kind::Int && kind() != Kind::Bool)
    throw RenderError("expected a number, got a value of type '" + type_name() + "'");
  return static_cast<double>(as_int());
}

const std::string& Value::str() const {
  return *get_or_throw<std::shared_ptr<const std::string>>(v_, *this, "a string");
}
const List& Value::items() const { return *get_or_throw<std::shared_ptr<const List>>(v_, *this, "a list"); }
const Dict& Value::dict() const { return *get_or_throw<std::shared_ptr<const Dict>>(v_, *this, "a dict"); }
Dict& Value::ns() const { return *get_or_throw<std::shared_ptr<Dict>>(v_, *this, "a namespace"); }
const Callable& Value::fn() const {
  return *get_or_throw<std::shared_ptr<const Callable>>(v_, *this, "a function");
}
const std::string& Value::undefined_hint() const { return get_or_throw<Undefined>(v_, *this, "an undefined value").hint; }

bool Value::truthy() const {
  switch (kind()) {
    case Kind::Undefined:
    case Kind::None: return false;
    case Kind::Bool: return as_bool();
    case Kind::Int: return as_int() != 0;
    case Kind::Float: return as_double() != 0.0;
    case Kind::String: return !str().empty();
    case Kind::List: return !items().empty();
    case Kind::Dict: return !dict().items.empty();
    case Kind::Namespace:
    case Kind::Callable: return true;
  }
  return false;
}

std::string Value::type_name() const {
  switch (kind()) {
    case Kind::Undefined: return "Undefined";
    case Kind::None: return "NoneType";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::List: return tuple_ ? "tuple" : "list";
    case Kind::Dict: return "dict";
    case Kind::Namespace: return "Namespace";
    case Kind::Callable: return "function";
  }
  return "?";
}

const Value* CallArgs::get(size_t index, std::string_view name) const {
  if (index < positional.size()) return &positional[index];
  for (const auto& [k, v] : keyword)
    if (k == name) return &v;
  return nullptr;
}

void CallArgs::check(size_t max_positional, std::initializer_list<std::string_view> names) const {
  if (positional.size() > max_positional)
    throw RenderError(callee + "() takes at most " + std::to_string(max_positional) + " positional argument" +
                      (max_positional == 1 ? "" : "s") + " (" + std::to_string(positional.size()) + " given)");
  for (const auto& [k, v] : keyword) {
    bool known = false;
    for (auto n : names) known = known || n == k;
    if (!known) throw RenderError(callee + "() got an unexpected keyword argument '" + k + "'");
  }
}

std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  // Shortest round-trip digits in scientific form: "d.ddde±x".
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  bool neg = sci[0] == '-';
  if (neg) sci.erase(0, 1);
  size_t e = sci.find('e');
  int exp = std::stoi(sci.substr(e + 1));
  std::string digits;
  for (char c : sci.substr(0, e))
    if (c != '.') digits += c;
  std::string out;
  if (exp >= -4 && exp < 16) {  // Python's repr switches to exponent notation outside this range
    if (exp < 0) {
      out = "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
    } else if (static_cast<size_t>(exp) + 1 >= digits.size()) {
      out = digits + std::string(static_cast<size_t>(exp) + 1 - digits.size(), '0') + ".0";
    } else {
      out = digits.substr(0, static_cast<size_t>(exp) + 1) + "." + digits.substr(static_cast<size_t>(exp) + 1);
    }
  } else {
    out = digits.substr(0, 1);
    if (digits.size() > 1) {
      out += '.';
      out.append(digits, 1, std::string::npos);
    }
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    out += eb;
  }
  return neg ? "-" + out : out;
}

namespace {

// Python's repr of a str: single quotes unless the text holds ' and no ".
std::string string_repr(const std::string& s) {
  bool has_single = s.find('\'') != std::string::npos;
  bool has_double = s.find('"') != std::string::npos;
  char q = has_single && !has_double ? '"' : '\'';
  std::string out(1, q);
  for (char32_t c : utf8_decode(s)) {
    if (c == static_cast<char32_t>(q) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (!is_printable(c)) {
      char b[16];
      if (c < 0x100)
        std::snprintf(b, sizeof b, "\\x%02x", static_cast<unsigned>(c));
      else if (c < 0x10000)
        std::snprintf(b, sizeof b, "\\u%04x", static_cast<unsigned>(c));
      else
        std::snprintf(b, sizeof b, "\\U%08x", static_cast<unsigned>(c));
      out += b;
    } else {
      utf8_append(out, c);
    }
  }
  out += q;
  return out;
}

}  // namespace

std::string to_repr(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::String: return string_repr(v.str());
    case Value::Kind::List: {
      std::string out = v.is_tuple() ? "(" : "[";
      const auto& items = v.items();
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += ", ";
        out += to_repr(items[i]);
      }
      if (v.is_tuple() && items.size() == 1) out += ",";
      out += v.is_tuple() ? ")" : "]";
      return out;
    }
    case Value::Kind::Dict: {
      std::string out = "{";
      bool first = true;
      for (const auto& [k, x] : v.dict().items) {
        if (!first) out += ", ";
        first = false;
        out += string_repr(k) + ": " + to_repr(x);
      }
      return out + "}";
    }
    case Value::Kind::Namespace: {
      std::string out = "<Namespace {";
      bool first = true;
      for (const auto& [k, x] : v.ns().items) {
        if (!first) out += ", ";
        first = false;
        out += string_repr(k) + ": " + to_repr(x);
      }
      return out + "}>";
    }
    default: return to_str(v);
  }
}

std::string to_str(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined: return "";
    case Value::Kind::None: return "None";
    case Value::Kind::Bool: return v.as_bool() ? "True" : "False";
    case Value::Kind::Int: return std::to_string(v.as_int());
    case Value::Kind::Float: return float_repr(v.as_double());
    case Value::Kind::String: return v.str();
    case Value::Kind::Callable: return "<function " + v.fn().name + ">";
    default: return to_repr(v);
  }
}

bool equals(const Value& a, const Value& b) {
  using K = Value::Kind;
  if (a.is_number() && b.is_number()) {
    if (a.kind() == K::Float || b.kind() == K::Float) return a.as_double() == b.as_double();
    return a.as_int() == b.as_int();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case K::Undefined:
    case K::None: return true;
    case K::String: return a.str() == b.str();
    case K::List: {
      if (a.is_tuple() != b.is_tuple() || a.items().size() != b.items().size()) return false;
      for (size_t i = 0; i < a.items().size(); ++i)
        if (!equals(a.items()[i], b.items()[i])) return false;
      return true;
    }
    case K::Dict: {
      const auto& x = a.dict();
      const auto& y = b.dict();
      if (x.items.size() != y.items.size()) return false;
      for (const auto& [k, v] : x.items) {
        const Value* w = y.find(k);
        if (!w || !equals(v, *w)) return false;
      }
      return true;
    }
    case K::Namespace: return &a.ns() == &b.ns();
    case K::Callable: return &a.fn() == &b.fn();
    default: return false;
  }
}

}  // namespace cloze::chat
