// Jinja2 3.1's tests (`x is defined`, `x is string`, ...), as
// jinja2/tests.py defines them on Python values.
#include "chat/builtins.h"
#include "chat/interpreter.h"
#include "chat/render_error.h"
#include "chat/unicode.h"

namespace cloze::chat {
namespace {

const Value& need(const CallArgs& a, const char* test) {
  if (a.positional.empty()) throw RenderError(std::string("test '") + test + "' needs an argument");
  return a.positional[0];
}

bool is_lower_str(const std::string& s, bool upper) {
  bool cased = false;
  for (char32_t c : utf8_decode(s)) {
    if (upper ? is_cased_lower(c) : is_cased_upper(c)) return false;
    cased = cased || is_cased_lower(c) || is_cased_upper(c);
  }
  return cased;
}

const char* const kTests[] = {
    "defined", "undefined", "none", "boolean", "false", "true", "integer", "float", "number",
    "string", "mapping", "sequence", "iterable", "callable", "sameas", "escaped", "lower", "upper",
    "odd", "even", "divisibleby", "in", "==", "eq", "equalto", "!=", "ne", ">", "gt", "greaterthan",
    ">=", "ge", "<", "lt", "lessthan", "<=", "le", "filter", "test",
};

}  // namespace

bool has_test(std::string_view name) {
  for (const char* t : kTests)
    if (name == t) return true;
  return false;
}

bool apply_test(Interpreter& in, std::string_view name, const Value& v, CallArgs& a) {
  in.step();
  using K = Value::Kind;
  const K k = v.kind();
  if (name == "defined") return k != K::Undefined;
  if (name == "undefined") return k == K::Undefined;
  if (name == "none") return k == K::None;
  if (name == "boolean") return k == K::Bool;
  if (name == "false") return k == K::Bool && !v.as_bool();
  if (name == "true") return k == K::Bool && v.as_bool();
  if (name == "integer") return k == K::Int;
  if (name == "float") return k == K::Float;
  if (name == "number") return v.is_number();
  if (name == "string") return k == K::String;
  if (name == "mapping") return k == K::Dict;
  if (name == "sequence") return k == K::String || k == K::List || k == K::Dict || k == K::Undefined;
  if (name == "iterable") return k == K::String || k == K::List || k == K::Dict || k == K::Undefined;
  if (name == "callable") return k == K::Callable;
  if (name == "escaped") return false;
  if (name == "lower") return is_lower_str(to_str(v), false);
  if (name == "upper") return is_lower_str(to_str(v), true);
  if (name == "odd" || name == "even" || name == "divisibleby") {
    if (v.is_undefined()) fail_undefined(v);
    if (!v.is_number()) throw RenderError("unsupported operand type(s) for %: '" + v.type_name() + "' and 'int'");
    if (name == "divisibleby") {
      const Value& d = need(a, "divisibleby");
      Value m = binary_op("%", v, d);
      return equals(m, Value(int64_t{0}));
    }
    Value m = binary_op("%", v, Value(int64_t{2}));
    return equals(m, Value(int64_t{name == "odd" ? 1 : 0}));
  }
  if (name == "sameas") {
    const Value& o = need(a, "sameas");
    if (k == K::None || k == K::Bool) return o.kind() == k && (k == K::None || o.as_bool() == v.as_bool());
    if (k == K::Int && o.kind() == K::Int) return v.as_int() == o.as_int() && v.as_int() >= -5 && v.as_int() <= 256;
    return false;
  }
  if (name == "in") return contains(need(a, "in"), v);
  if (name == "==" || name == "eq" || name == "equalto") return equals(v, need(a, "eq"));
  if (name == "!=" || name == "ne") return !equals(v, need(a, "ne"));
  if (name == ">" || name == "gt" || name == "greaterthan") return less_than(need(a, "gt"), v);
  if (name == ">=" || name == "ge") return !less_than(v, need(a, "ge"));
  if (name == "<" || name == "lt" || name == "lessthan") return less_than(v, need(a, "lt"));
  if (name == "<=" || name == "le") return !less_than(need(a, "le"), v);
  if (name == "filter") return v.is_string() && has_filter(v.str());
  if (name == "test") return v.is_string() && has_test(v.str());
  throw RenderError("no test named '" + std::string(name) + "'");
}

}  // namespace cloze::chat
