#pragma once
// The values a chat template computes with, modelled on the Python objects
// Jinja2 hands around: None, bool, int, float, str, list/tuple, dict (in
// insertion order), namespace(), callables, and Jinja2's default Undefined
// (prints as nothing, iterates as empty, raises when used any other way).
// Lists and dicts are immutable once built (transformers renders in an
// ImmutableSandboxedEnvironment); only namespace() attributes can change.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace cloze::chat {

class Value;
struct CallArgs;
class Interpreter;

using List = std::vector<Value>;

struct Dict {
  std::vector<std::pair<std::string, Value>> items;
  const Value* find(std::string_view key) const;
  void set(std::string key, Value v);  // replaces or appends (keeps first position)
};

struct Callable {
  std::string name;  // for error messages
  std::function<Value(Interpreter&, CallArgs&)> fn;
};

struct Undefined {
  // What Jinja2 would say when the value is used: "'x' is undefined".
  std::string hint;
};

class Value {
 public:
  enum class Kind { Undefined, None, Bool, Int, Float, String, List, Dict, Namespace, Callable };

  Value() : v_(Undefined{}) {}
  static Value undefined(std::string hint) { Value r; r.v_ = Undefined{std::move(hint)}; return r; }
  static Value none() { Value r; r.v_ = nullptr; return r; }
  Value(bool b) : v_(b) {}
  Value(int64_t i) : v_(i) {}
  Value(int i) : v_(int64_t{i}) {}
  Value(double d) : v_(d) {}
  Value(std::string s) : v_(std::make_shared<const std::string>(std::move(s))) {}
  Value(const char* s) : Value(std::string(s)) {}
  static Value list(List items, bool tuple = false);
  static Value dict(Dict d);
  static Value name_space(Dict d);  // namespace(): mutable attributes
  static Value callable(std::string name, std::function<Value(Interpreter&, CallArgs&)> fn);

  Kind kind() const;
  bool is_undefined() const { return kind() == Kind::Undefined; }
  bool is_none() const { return kind() == Kind::None; }
  bool is_string() const { return kind() == Kind::String; }
  bool is_list() const { return kind() == Kind::List; }
  bool is_dict() const { return kind() == Kind::Dict; }
  // int or bool (Python's bool is an int) or float
  bool is_number() const;
  bool is_tuple() const { return is_list() && tuple_; }

  // Accessors: the value must be of that kind; otherwise they throw
  // RenderError naming what was expected (never undefined behaviour).
  bool as_bool() const;
  int64_t as_int() const;  // int or bool
  double as_double() const;  // int, bool or float
  const std::string& str() const;
  const List& items() const;
  const Dict& dict() const;
  Dict& ns() const;
  const Callable& fn() const;
  const std::string& undefined_hint() const;

  // Python's truth value.
  bool truthy() const;
  // Python's type name, as in error messages ("str", "list", "dict", ...).
  std::string type_name() const;

 private:
  std::variant<Undefined, std::nullptr_t, bool, int64_t, double, std::shared_ptr<const std::string>,
               std::shared_ptr<const List>, std::shared_ptr<const Dict>, std::shared_ptr<Dict>,
               std::shared_ptr<const Callable>>
      v_;
  bool tuple_ = false;
};

// Arguments of a call: positional then keyword, as written.
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
  std::string callee;  // for error messages

  // The argument at `index` or named `name`; nullptr when neither was given.
  const Value* get(size_t index, std::string_view name) const;
  // Throws when more positional arguments than `max`, or an unknown keyword.
  void check(size_t max_positional, std::initializer_list<std::string_view> names) const;
};

// Python's str(): what `{{ value }}` prints. Undefined prints as nothing.
std::string to_str(const Value& v);
// Python's repr() (strings quoted, as inside a printed list).
std::string to_repr(const Value& v);
// Python's float repr: shortest round-trip digits, "1.0", "1e+16", "nan".
std::string float_repr(double d);
// Python's == (1 == 1.0 == True; lists and dicts compare deeply).
bool equals(const Value& a, const Value& b);

}  // namespace cloze::chat
