// The evaluator: statements, scopes, loops, macros, and Python-like
// expression semantics. See interpreter.h.
#include "chat/interpreter.h"

#include <algorithm>
#include <cmath>

#include "chat/builtins.h"
#include "chat/lexer.h"
#include "chat/render_error.h"
#include "chat/unicode.h"

namespace cloze::chat {

const Value* Scope::find(const std::string& name) const {
  for (const Scope* s = this; s; s = s->parent.get()) {
    auto it = s->vars.find(name);
    if (it != s->vars.end()) return &it->second;
  }
  return nullptr;
}

Interpreter::Interpreter(std::string_view source, Limits limits, std::optional<std::time_t> now)
    : source_(source), limits_(limits), now_(now) {}

std::time_t Interpreter::now() const { return now_ ? *now_ : std::time(nullptr); }

void Interpreter::step() {
  if (++steps_ > limits_.max_steps)
    throw LimitError("chat template ran more than " + std::to_string(limits_.max_steps) +
                     " steps (a loop that does not end?)");
}

void Interpreter::check_size(size_t bytes) const {
  if (bytes > limits_.max_output_bytes)
    throw LimitError("chat template output exceeds " + std::to_string(limits_.max_output_bytes) + " bytes");
}

void Interpreter::write(std::string_view s) {
  total_written_ += s.size();
  check_size(total_written_);
  out_->append(s);
}

void Interpreter::fail_at(size_t offset, const std::string& msg) const {
  throw RenderError(position(source_, offset) + ": " + msg);
}

std::string Interpreter::render(const Body& body, const Dict& vars) {
  auto globals = std::make_shared<Scope>();
  for (const auto& [k, v] : vars.items) globals->vars[k] = v;
  std::string out;
  out_ = &out;
  exec(body, globals);
  return out;
}

std::string Interpreter::capture(const Body& body, const std::shared_ptr<Scope>& scope) {
  std::string buf;
  std::string* saved = out_;
  out_ = &buf;
  try {
    exec(body, scope);
  } catch (...) {
    out_ = saved;
    throw;
  }
  out_ = saved;
  return buf;
}

Interpreter::Flow Interpreter::exec(const Body& body, const std::shared_ptr<Scope>& scope) {
  for (const auto& s : body) {
    Flow f = exec_stmt(*s, scope);
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

Interpreter::Flow Interpreter::exec_stmt(const Stmt& s, const std::shared_ptr<Scope>& scope) {
  step();
  {
    switch (s.kind) {
      case Stmt::Kind::Data: write(s.data); return Flow::Normal;
      case Stmt::Kind::Print: {
        Value v = eval(*s.expr, scope);
        write(to_str(v));
        return Flow::Normal;
      }
      case Stmt::Kind::If:
        for (const auto& [cond, body] : s.branches)
          if (eval(*cond, scope).truthy()) return exec(body, scope);
        return exec(s.else_body, scope);
      case Stmt::Kind::For: return exec_for(s, scope);
      case Stmt::Kind::Set: assign(s.target, eval(*s.expr, scope), scope, s.offset); return Flow::Normal;
      case Stmt::Kind::SetBlock: {
        auto inner = std::make_shared<Scope>();
        inner->parent = scope;
        Value v(capture(s.body, inner));
        if (s.expr) {
          // Apply the filter chain with the captured text as input.
          const Expr* chain[64];
          size_t n = 0;
          for (const Expr* f = s.expr.get(); f && n < 64; f = f->a.get()) chain[n++] = f;
          while (n > 0) {
            const Expr* f = chain[--n];
            CallArgs args = eval_args(f->args, scope, f->name);
            v = apply_filter(*this, f->name, v, args);
          }
        }
        assign(s.target, v, scope, s.offset);
        return Flow::Normal;
      }
      case Stmt::Kind::Macro: scope->vars[s.name] = define_macro(s, scope); return Flow::Normal;
      case Stmt::Kind::FilterBlock: {
        auto inner = std::make_shared<Scope>();
        inner->parent = scope;
        Value v(capture(s.body, inner));
        CallArgs args = eval_args(s.expr->args, scope, s.expr->name);
        write(to_str(apply_filter(*this, s.expr->name, v, args)));
        return Flow::Normal;
      }
      case Stmt::Kind::Break: return Flow::Break;
      case Stmt::Kind::Continue: return Flow::Continue;
      case Stmt::Kind::With: {
        auto inner = std::make_shared<Scope>();
        inner->parent = scope;
        for (const auto& [t, e] : s.assigns) assign(t, eval(*e, scope), inner, s.offset);
        return exec(s.body, inner);
      }
      case Stmt::Kind::Scope: return exec(s.body, scope);
    }
  }
  return Flow::Normal;
}

void Interpreter::assign(const Target& t, const Value& v, const std::shared_ptr<Scope>& scope, size_t offset) {
  if (!t.attr.empty()) {
    const Value* ns = scope->find(t.names[0]);
    if (!ns || ns->kind() != Value::Kind::Namespace)
      fail_at(offset, "cannot assign attribute '" + t.attr + "' on '" + t.names[0] + "': not a namespace()");
    ns->ns().set(t.attr, v);
    return;
  }
  if (!t.tuple) {
    scope->vars[t.names[0]] = v;
    return;
  }
  List items = iterate(v);
  if (items.size() != t.names.size())
    fail_at(offset, (items.size() > t.names.size() ? "too many values to unpack (expected "
                                                    : "not enough values to unpack (expected ") +
                        std::to_string(t.names.size()) + ", got " + std::to_string(items.size()) + ")");
  for (size_t i = 0; i < items.size(); ++i) scope->vars[t.names[i]] = items[i];
}

Interpreter::Flow Interpreter::exec_for(const Stmt& s, const std::shared_ptr<Scope>& scope) {
  Value seq = eval(*s.expr, scope);
  if (!seq.is_undefined() && !seq.is_string() && !seq.is_list() && !seq.is_dict())
    fail_at(s.expr->offset, "'" + seq.type_name() + "' object is not iterable");
  List items = iterate(seq);
  if (s.loop_filter) {  // `for x in xs if cond`: loop.* counts the kept items only
    List kept;
    for (const Value& item : items) {
      step();
      auto probe = std::make_shared<Scope>();
      probe->parent = scope;
      assign(s.target, item, probe, s.offset);
      if (eval(*s.loop_filter, probe).truthy()) kept.push_back(item);
    }
    items = std::move(kept);
  }
  if (items.empty()) {
    auto inner = std::make_shared<Scope>();
    inner->parent = scope;
    exec(s.else_body, inner);
    return Flow::Normal;
  }
  const int64_t n = static_cast<int64_t>(items.size());
  for (int64_t i = 0; i < n; ++i) {
    step();  // an empty body still costs
    auto inner = std::make_shared<Scope>();
    inner->parent = scope;
    Dict loop;
    loop.set("index", Value(i + 1));
    loop.set("index0", Value(i));
    loop.set("revindex", Value(n - i));
    loop.set("revindex0", Value(n - i - 1));
    loop.set("first", Value(i == 0));
    loop.set("last", Value(i == n - 1));
    loop.set("length", Value(n));
    loop.set("depth", Value(1));
    loop.set("depth0", Value(0));
    loop.set("previtem", i > 0 ? items[static_cast<size_t>(i - 1)] : Value::undefined("there is no previous item"));
    loop.set("nextitem", i + 1 < n ? items[static_cast<size_t>(i + 1)] : Value::undefined("there is no next item"));
    loop.set("cycle", Value::callable("loop.cycle", [i](Interpreter&, CallArgs& a) -> Value {
               if (a.positional.empty()) throw RenderError("no items for cycling given");
               return a.positional[static_cast<size_t>(i) % a.positional.size()];
             }));
    inner->vars["loop"] = Value::dict(std::move(loop));
    assign(s.target, items[static_cast<size_t>(i)], inner, s.offset);
    if (exec(s.body, inner) == Flow::Break) break;
  }
  return Flow::Normal;
}

Value Interpreter::define_macro(const Stmt& s, const std::shared_ptr<Scope>& scope) {
  const Stmt* m = &s;
  std::weak_ptr<Scope> def_scope = scope;  // a macro stored in its own scope must not keep it alive
  return Value::callable(s.name, [this, m, def_scope](Interpreter&, CallArgs& args) -> Value {
    auto parent = def_scope.lock();
    if (!parent) throw RenderError("macro '" + m->name + "' called after its scope ended");
    if (++depth_ > limits_.max_call_depth) {
      --depth_;
      throw LimitError("chat template macros nest deeper than " + std::to_string(limits_.max_call_depth) + " calls");
    }
    struct Leave {
      int& d;
      ~Leave() { --d; }
    } leave{depth_};
    auto inner = std::make_shared<Scope>();
    inner->parent = parent;
    if (args.positional.size() > m->params.size())
      throw RenderError("macro '" + m->name + "' takes not more than " + std::to_string(m->params.size()) +
                        " argument(s)");
    for (size_t i = 0; i < m->params.size(); ++i) {
      const auto& [pname, def] = m->params[i];
      const Value* given = args.get(i, pname);
      if (given) inner->vars[pname] = *given;
      else if (def) inner->vars[pname] = eval(*def, inner);
      else inner->vars[pname] = Value::undefined("parameter '" + pname + "' was not provided");
    }
    for (const auto& [k, v] : args.keyword) {
      bool known = false;
      for (const auto& p : m->params) known = known || p.first == k;
      if (!known) throw RenderError("macro '" + m->name + "' takes no keyword argument '" + k + "'");
    }
    return Value(capture(m->body, inner));
  });
}

CallArgs Interpreter::eval_args(const Args& args, const std::shared_ptr<Scope>& scope, std::string callee) {
  CallArgs out;
  out.callee = std::move(callee);
  for (const auto& e : args.positional) out.positional.push_back(eval(*e, scope));
  for (const auto& [k, e] : args.keyword) out.keyword.emplace_back(k, eval(*e, scope));
  return out;
}

Value Interpreter::call(const Value& callee, CallArgs& args) {
  if (callee.is_undefined()) fail_undefined(callee);
  if (callee.kind() != Value::Kind::Callable) throw RenderError("'" + callee.type_name() + "' object is not callable");
  if (args.callee.empty()) args.callee = callee.fn().name;
  return callee.fn().fn(*this, args);
}

namespace {

std::string object_name(const Value& v) {
  if (v.is_none()) return "'None'";
  if (v.kind() == Value::Kind::Namespace) return "'jinja2.utils.Namespace object'";
  std::string out = "'";
  out += v.type_name();
  out += " object'";
  return out;
}

}  // namespace

Value Interpreter::getattr(const Value& obj, const std::string& name) {
  switch (obj.kind()) {
    case Value::Kind::Undefined: fail_undefined(obj);
    case Value::Kind::Dict: {
      Value m = method(obj, name);
      if (!m.is_undefined()) return m;
      if (const Value* v = obj.dict().find(name)) return *v;
      break;
    }
    case Value::Kind::Namespace:
      if (const Value* v = obj.ns().find(name)) return *v;
      break;
    case Value::Kind::String:
    case Value::Kind::List: {
      Value m = method(obj, name);
      if (!m.is_undefined()) return m;
      break;
    }
    default: break;
  }
  return Value::undefined(object_name(obj) + " has no attribute '" + name + "'");
}

Value Interpreter::getitem(const Value& obj, const Value& key) {
  switch (obj.kind()) {
    case Value::Kind::Undefined: fail_undefined(obj);
    case Value::Kind::Dict:
      if (key.is_string()) {
        if (const Value* v = obj.dict().find(key.str())) return *v;
        return getattr(obj, key.str());
      }
      break;
    case Value::Kind::List:
    case Value::Kind::String:
      if (key.kind() == Value::Kind::Int || key.kind() == Value::Kind::Bool) {
        int64_t i = key.as_int();
        if (obj.is_list()) {
          int64_t n = static_cast<int64_t>(obj.items().size());
          if (i < 0) i += n;
          if (i >= 0 && i < n) return obj.items()[static_cast<size_t>(i)];
        } else {
          std::u32string u = utf8_decode(obj.str());
          int64_t n = static_cast<int64_t>(u.size());
          if (i < 0) i += n;
          if (i >= 0 && i < n) return Value(utf8_encode(std::u32string(1, u[static_cast<size_t>(i)])));
        }
        return Value::undefined(obj.type_name() + " object has no element " + std::to_string(key.as_int()));
      }
      if (key.is_string()) return getattr(obj, key.str());
      break;
    case Value::Kind::Namespace:
      if (key.is_string()) return getattr(obj, key.str());
      break;
    default: break;
  }
  return Value::undefined(object_name(obj) + " has no element " + to_repr(key));
}

namespace {

// Python slice indices for a sequence of length n.
List slice_indices(int64_t n, const Value& start, const Value& stop, const Value& step_v, std::vector<int64_t>& idx) {
  auto as_index = [](const Value& v, const char* what) -> std::optional<int64_t> {
    if (v.is_none() || v.is_undefined()) return std::nullopt;
    if (v.kind() != Value::Kind::Int && v.kind() != Value::Kind::Bool)
      throw RenderError(std::string("slice ") + what + " must be an integer or None, not " + v.type_name());
    return v.as_int();
  };
  int64_t step = as_index(step_v, "step").value_or(1);
  if (step == 0) throw RenderError("slice step cannot be zero");
  auto clamp = [&](std::optional<int64_t> v, int64_t def) {
    if (!v) return def;
    int64_t x = *v;
    if (x < 0) x += n;
    if (step > 0) return std::clamp<int64_t>(x, 0, n);
    return std::clamp<int64_t>(x, -1, n - 1);
  };
  int64_t lo = clamp(as_index(start, "start"), step > 0 ? 0 : n - 1);
  int64_t hi = clamp(as_index(stop, "stop"), step > 0 ? n : -1);
  for (int64_t i = lo; step > 0 ? i < hi : i > hi; i += step) idx.push_back(i);
  return {};
}

}  // namespace

Value Interpreter::eval(const Expr& e, const std::shared_ptr<Scope>& scope) {
  step();
  try {
    switch (e.kind) {
      case Expr::Kind::Literal: return e.value;
      case Expr::Kind::Name: {
        if (const Value* v = scope->find(e.name)) return *v;
        return Value::undefined("'" + e.name + "' is undefined");
      }
      case Expr::Kind::List:
      case Expr::Kind::Tuple: {
        List items;
        for (const auto& x : e.items) items.push_back(eval(*x, scope));
        return Value::list(std::move(items), e.kind == Expr::Kind::Tuple);
      }
      case Expr::Kind::Dict: {
        Dict d;
        for (size_t i = 0; i + 1 < e.items.size(); i += 2) {
          Value k = eval(*e.items[i], scope);
          if (!k.is_string()) fail_at(e.items[i]->offset, "dict keys must be strings here, not " + k.type_name());
          d.set(k.str(), eval(*e.items[i + 1], scope));
        }
        return Value::dict(std::move(d));
      }
      case Expr::Kind::Attr: return getattr(eval(*e.a, scope), e.name);
      case Expr::Kind::Item: {
        Value obj = eval(*e.a, scope);
        return getitem(obj, eval(*e.b, scope));
      }
      case Expr::Kind::Slice: {
        Value obj = eval(*e.a, scope);
        Value start = e.b ? eval(*e.b, scope) : Value::none();
        Value stop = e.c ? eval(*e.c, scope) : Value::none();
        Value stp = e.items[0] ? eval(*e.items[0], scope) : Value::none();
        if (obj.is_undefined()) fail_undefined(obj);
        std::vector<int64_t> idx;
        if (obj.is_list()) {
          slice_indices(static_cast<int64_t>(obj.items().size()), start, stop, stp, idx);
          List out;
          for (int64_t i : idx) out.push_back(obj.items()[static_cast<size_t>(i)]);
          return Value::list(std::move(out), obj.is_tuple());
        }
        if (obj.is_string()) {
          std::u32string u = utf8_decode(obj.str());
          slice_indices(static_cast<int64_t>(u.size()), start, stop, stp, idx);
          std::u32string out;
          for (int64_t i : idx) out.push_back(u[static_cast<size_t>(i)]);
          return Value(utf8_encode(out));
        }
        fail_at(e.offset, "'" + obj.type_name() + "' object is not subscriptable");
      }
      case Expr::Kind::Call: {
        Value callee = eval(*e.a, scope);
        CallArgs args = eval_args(e.args, scope, callee.kind() == Value::Kind::Callable ? callee.fn().name : "");
        return call(callee, args);
      }
      case Expr::Kind::Filter: {
        Value input = eval(*e.a, scope);
        CallArgs args = eval_args(e.args, scope, e.name);
        return apply_filter(*this, e.name, input, args);
      }
      case Expr::Kind::Test: {
        Value input = eval(*e.a, scope);
        CallArgs args = eval_args(e.args, scope, e.name);
        return Value(apply_test(*this, e.name, input, args) != e.negated);
      }
      case Expr::Kind::Not: return Value(!eval(*e.a, scope).truthy());
      case Expr::Kind::Neg:
      case Expr::Kind::Pos: {
        Value v = eval(*e.a, scope);
        if (v.is_undefined()) fail_undefined(v);
        if (!v.is_number()) fail_at(e.offset, "bad operand type for unary " + std::string(e.kind == Expr::Kind::Neg ? "-" : "+") + ": '" + v.type_name() + "'");
        if (e.kind == Expr::Kind::Pos) return v.kind() == Value::Kind::Bool ? Value(v.as_int()) : v;
        if (v.kind() == Value::Kind::Float) return Value(-v.as_double());
        if (v.as_int() == INT64_MIN) fail_at(e.offset, "integer overflow");
        return Value(-v.as_int());
      }
      case Expr::Kind::And: {
        Value l = eval(*e.a, scope);
        return l.truthy() ? eval(*e.b, scope) : l;
      }
      case Expr::Kind::Or: {
        Value l = eval(*e.a, scope);
        return l.truthy() ? l : eval(*e.b, scope);
      }
      case Expr::Kind::Binary: {
        Value l = eval(*e.a, scope);
        Value r = eval(*e.b, scope);
        Value v = binary_op(e.name, l, r);
        if (v.is_string()) check_size(v.str().size());
        return v;
      }
      case Expr::Kind::Compare: {
        Value l = eval(*e.a, scope);
        for (size_t i = 0; i < e.ops.size(); ++i) {
          Value r = eval(*e.items[i], scope);
          if (!compare(e.ops[i], l, r)) return Value(false);
          l = std::move(r);
        }
        return Value(true);
      }
      case Expr::Kind::Cond:
        if (eval(*e.a, scope).truthy()) return eval(*e.b, scope);
        return e.c ? eval(*e.c, scope) : Value::undefined("the inline if-expression evaluated to false and no else section was defined");
    }
  } catch (const RenderError& err) {
    std::string what = err.what();
    if (what.rfind("line ", 0) == 0) throw;  // already placed
    fail_at(e.offset, what);
  }
  return Value();
}

bool Interpreter::compare(const std::string& op, const Value& a, const Value& b) {
  if (op == "==") return equals(a, b);
  if (op == "!=") return !equals(a, b);
  if (op == "in") return contains(b, a);
  if (op == "not in") return !contains(b, a);
  if (op == "<") return less_than(a, b);
  if (op == ">") return less_than(b, a);
  if (op == "<=") return !less_than(b, a);
  return !less_than(a, b);  // >=
}

}  // namespace cloze::chat
