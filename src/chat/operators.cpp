// Python's operators on template values: arithmetic, concatenation,
// ordering, membership, iteration and len().
#include <cmath>
#include <cstdio>
#include <limits>

#include "chat/builtins.h"
#include "chat/interpreter.h"
#include "chat/render_error.h"
#include "chat/unicode.h"

namespace cloze::chat {

void fail_undefined(const Value& v) { throw RenderError(v.undefined_hint()); }

namespace {

[[noreturn]] void unsupported(const std::string& op, const Value& a, const Value& b) {
  if (op == "+" && a.is_string())
    throw RenderError("can only concatenate str (not \"" + b.type_name() + "\") to str");
  if (op == "+" && a.is_list() && !a.is_tuple())
    throw RenderError("can only concatenate list (not \"" + b.type_name() + "\") to list");
  throw RenderError("unsupported operand type(s) for " + op + ": '" + a.type_name() + "' and '" + b.type_name() + "'");
}

bool is_intlike(const Value& v) { return v.kind() == Value::Kind::Int || v.kind() == Value::Kind::Bool; }

// Python ints do not overflow; ours are 64-bit and say so.
void check_overflow(bool overflow) {
  if (overflow) throw RenderError("integer overflow");
}

Value repeat(const Value& seq, int64_t n) {
  if (seq.is_string()) {
    std::string out;
    if (n > 0 && seq.str().size() * static_cast<size_t>(n) > (size_t{64} << 20))
      throw RenderError("string repetition result too large");
    for (int64_t i = 0; i < n; ++i) out += seq.str();
    return Value(std::move(out));
  }
  List out;
  if (n > 0 && seq.items().size() * static_cast<size_t>(n) > (size_t{1} << 20))
    throw RenderError("list repetition result too large");
  for (int64_t i = 0; i < n; ++i) out.insert(out.end(), seq.items().begin(), seq.items().end());
  return Value::list(std::move(out), seq.is_tuple());
}

// Python's floor division and modulo.
int64_t floor_div(int64_t a, int64_t b) {
  if (a == std::numeric_limits<int64_t>::min() && b == -1) throw RenderError("integer overflow");
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

// printf-style "%s" % args, as Python's str % (the `format` filter too).
std::string percent_format(const std::string& fmt, const Value& args) {
  List list = args.is_tuple() ? args.items() : List{args};
  std::string out;
  size_t next = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out += fmt[i];
      continue;
    }
    if (++i >= fmt.size()) throw RenderError("incomplete format");
    char c = fmt[i];
    if (c == '%') {
      out += '%';
      continue;
    }
    if (next >= list.size()) throw RenderError("not enough arguments for format string");
    const Value& v = list[next++];
    if (c == 's') out += to_str(v);
    else if (c == 'r') out += to_repr(v);
    else if ((c == 'd' || c == 'i') && v.is_number()) out += std::to_string(v.kind() == Value::Kind::Float ? static_cast<int64_t>(v.as_double()) : v.as_int());
    else if (c == 'f' && v.is_number()) {
      char b[64];
      std::snprintf(b, sizeof b, "%f", v.as_double());
      out += b;
    } else throw RenderError(std::string("unsupported format character '") + c + "'");
  }
  if (next < list.size()) throw RenderError("not all arguments converted during string formatting");
  return out;
}

Value binary_op(const std::string& op, const Value& a, const Value& b) {
  if (op == "~") return Value(to_str(a) + to_str(b));
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  const bool num = a.is_number() && b.is_number();
  const bool ints = is_intlike(a) && is_intlike(b);
  int64_t r = 0;
  if (op == "+") {
    if (ints) {
      check_overflow(__builtin_add_overflow(a.as_int(), b.as_int(), &r));
      return Value(r);
    }
    if (num) return Value(a.as_double() + b.as_double());
    if (a.is_string() && b.is_string()) return Value(a.str() + b.str());
    if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
      List out = a.items();
      out.insert(out.end(), b.items().begin(), b.items().end());
      return Value::list(std::move(out), a.is_tuple());
    }
    unsupported(op, a, b);
  }
  if (op == "-") {
    if (ints) {
      check_overflow(__builtin_sub_overflow(a.as_int(), b.as_int(), &r));
      return Value(r);
    }
    if (num) return Value(a.as_double() - b.as_double());
    unsupported(op, a, b);
  }
  if (op == "*") {
    if (ints) {
      check_overflow(__builtin_mul_overflow(a.as_int(), b.as_int(), &r));
      return Value(r);
    }
    if (num) return Value(a.as_double() * b.as_double());
    if ((a.is_string() || a.is_list()) && is_intlike(b)) return repeat(a, b.as_int());
    if ((b.is_string() || b.is_list()) && is_intlike(a)) return repeat(b, a.as_int());
    throw RenderError("can't multiply sequence by non-int of type '" + b.type_name() + "'");
  }
  if (op == "/") {
    if (!num) unsupported(op, a, b);
    if (b.as_double() == 0) throw RenderError("division by zero");
    return Value(a.as_double() / b.as_double());
  }
  if (op == "//") {
    if (!num) unsupported(op, a, b);
    if (b.as_double() == 0) throw RenderError("integer division or modulo by zero");
    if (ints) return Value(floor_div(a.as_int(), b.as_int()));
    return Value(std::floor(a.as_double() / b.as_double()));
  }
  if (op == "%") {
    if (a.is_string()) return Value(percent_format(a.str(), b));
    if (!num) unsupported(op, a, b);
    if (b.as_double() == 0) throw RenderError("integer division or modulo by zero");
    if (ints) {
      if (b.as_int() == -1) return Value(int64_t{0});
      return Value(a.as_int() - floor_div(a.as_int(), b.as_int()) * b.as_int());
    }
    double m = std::fmod(a.as_double(), b.as_double());
    if (m != 0 && ((m < 0) != (b.as_double() < 0))) m += b.as_double();
    return Value(m);
  }
  if (op == "**") {
    if (!num) unsupported("** or pow()", a, b);
    if (ints && b.as_int() >= 0) {
      int64_t base = a.as_int(), e = b.as_int(), acc = 1;
      while (e > 0) {
        if (e & 1) check_overflow(__builtin_mul_overflow(acc, base, &acc));
        e >>= 1;
        if (e) check_overflow(__builtin_mul_overflow(base, base, &base));
      }
      return Value(acc);
    }
    return Value(std::pow(a.as_double(), b.as_double()));
  }
  throw RenderError("unknown operator " + op);
}

bool less_than(const Value& a, const Value& b) {
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  if (a.is_number() && b.is_number()) {
    if (is_intlike(a) && is_intlike(b)) return a.as_int() < b.as_int();
    return a.as_double() < b.as_double();
  }
  if (a.is_string() && b.is_string()) return a.str() < b.str();  // UTF-8 order is code point order
  if (a.is_list() && b.is_list()) {
    const auto& x = a.items();
    const auto& y = b.items();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (equals(x[i], y[i])) continue;
      return less_than(x[i], y[i]);
    }
    return x.size() < y.size();
  }
  throw RenderError("'<' not supported between instances of '" + a.type_name() + "' and '" + b.type_name() + "'");
}

bool contains(const Value& c, const Value& item) {
  switch (c.kind()) {
    case Value::Kind::Undefined: return false;
    case Value::Kind::String:
      if (item.is_undefined()) fail_undefined(item);
      if (!item.is_string())
        throw RenderError("'in <string>' requires string as left operand, not " + item.type_name());
      return c.str().find(item.str()) != std::string::npos;
    case Value::Kind::List:
      for (const auto& x : c.items())
        if (equals(x, item)) return true;
      return false;
    case Value::Kind::Dict:
      if (!item.is_string()) return false;
      return c.dict().find(item.str()) != nullptr;
    default: throw RenderError("argument of type '" + c.type_name() + "' is not iterable");
  }
}

List iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined: return {};
    case Value::Kind::String: {
      List out;
      for (char32_t c : utf8_decode(v.str())) out.push_back(Value(utf8_encode(std::u32string(1, c))));
      return out;
    }
    case Value::Kind::List: return v.items();
    case Value::Kind::Dict: {
      List out;
      for (const auto& [k, x] : v.dict().items) out.push_back(Value(k));
      return out;
    }
    default: throw RenderError("'" + v.type_name() + "' object is not iterable");
  }
}

int64_t length(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined: return 0;
    case Value::Kind::String: return static_cast<int64_t>(utf8_decode(v.str()).size());
    case Value::Kind::List: return static_cast<int64_t>(v.items().size());
    case Value::Kind::Dict: return static_cast<int64_t>(v.dict().items.size());
    default: throw RenderError("object of type '" + v.type_name() + "' has no len()");
  }
}

}  // namespace cloze::chat
