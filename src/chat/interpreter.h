#pragma once
// Runs a parsed template: scopes (Jinja2's: a for-loop iteration and a macro
// call get their own, `if` does not), loops with `loop.*`, macros, filters,
// and Python's semantics for operators, attributes and subscripts. Bounded:
// steps, output bytes and call depth have limits, so a template cannot hang
// or exhaust memory.
#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "chat/ast.h"
#include "chat/value.h"

namespace cloze::chat {

struct Limits {
  size_t max_output_bytes = size_t{16} << 20;
  uint64_t max_steps = 1'000'000;
  int max_call_depth = 64;
};

struct Scope {
  std::unordered_map<std::string, Value> vars;
  std::shared_ptr<Scope> parent;
  const Value* find(const std::string& name) const;
};

class Interpreter {
 public:
  // `now` is what strftime_now() formats (local time); nullopt: the clock.
  Interpreter(std::string_view source, Limits limits, std::optional<std::time_t> now);

  // Renders `body` with `vars` as the template's variables. Throws
  // RenderError (with line and column), RaisedError or LimitError.
  std::string render(const Body& body, const Dict& vars);

  // For builtins.
  Value call(const Value& callee, CallArgs& args);
  Value getattr(const Value& obj, const std::string& name);
  Value getitem(const Value& obj, const Value& key);
  void step();  // counts work; throws LimitError past the budget
  void check_size(size_t bytes) const;
  std::time_t now() const;
  const Limits& limits() const { return limits_; }

 private:
  enum class Flow { Normal, Break, Continue };

  Flow exec(const Body& body, const std::shared_ptr<Scope>& scope);
  Flow exec_stmt(const Stmt& s, const std::shared_ptr<Scope>& scope);
  Flow exec_for(const Stmt& s, const std::shared_ptr<Scope>& scope);
  void assign(const Target& t, const Value& v, const std::shared_ptr<Scope>& scope, size_t offset);
  Value eval(const Expr& e, const std::shared_ptr<Scope>& scope);
  Value eval_binary(const Expr& e, const std::shared_ptr<Scope>& scope);
  bool compare(const std::string& op, const Value& a, const Value& b);
  CallArgs eval_args(const Args& args, const std::shared_ptr<Scope>& scope, std::string callee);
  Value define_macro(const Stmt& s, const std::shared_ptr<Scope>& scope);
  std::string capture(const Body& body, const std::shared_ptr<Scope>& scope);
  void write(std::string_view s);
  [[noreturn]] void fail_at(size_t offset, const std::string& msg) const;

  std::string_view source_;
  Limits limits_;
  std::optional<std::time_t> now_;
  uint64_t steps_ = 0;
  int depth_ = 0;
  std::string* out_ = nullptr;
  size_t total_written_ = 0;
};

// Python semantics shared with the builtins.
[[noreturn]] void fail_undefined(const Value& v);
Value binary_op(const std::string& op, const Value& a, const Value& b);
bool less_than(const Value& a, const Value& b);  // Python <; raises on mixed types
bool contains(const Value& container, const Value& item);  // Python `in`
// Python iteration: str -> characters, dict -> keys, Undefined -> nothing.
List iterate(const Value& v);
int64_t length(const Value& v);

}  // namespace cloze::chat
