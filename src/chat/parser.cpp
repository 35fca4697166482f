// Recursive descent over the token list; the grammar and precedence are
// jinja2/parser.py's (or < and < not < compare < + - < ~ < * / // % < ** <
// unary < primary + postfix + filters/tests).
#include "chat/parser.h"

#include <initializer_list>

#include "chat/builtins.h"

namespace cloze::chat {
namespace {

constexpr int kMaxDepth = 100;  // nested expressions / blocks

std::string describe(const Token& t) {
  switch (t.type) {
    case Tok::Data: return "template data";
    case Tok::BlockBegin: return "'{%'";
    case Tok::BlockEnd: return "end of statement '%}'";
    case Tok::VarBegin: return "'{{'";
    case Tok::VarEnd: return "end of print statement '}}'";
    case Tok::Name: return "'" + t.text + "'";
    case Tok::String: return "a string";
    case Tok::Integer:
    case Tok::Float: return "number " + t.text;
    case Tok::Operator: return "'" + t.text + "'";
    case Tok::Eof: return "end of template";
  }
  return "?";
}

class Parser {
 public:
  explicit Parser(const Lexed& l) : toks_(l.tokens), source_(l.source) {}

  Body parse_all() {
    Body body = subparse({});
    if (cur().type != Tok::Eof) fail(cur(), "unexpected " + describe(cur()));
    return body;
  }

 private:
  const std::vector<Token>& toks_;
  std::string_view source_;
  size_t i_ = 0;
  int depth_ = 0;
  // Innermost open blocks, for "expected 'endfor'" messages.
  std::vector<std::pair<std::string, size_t>> open_;

  struct DepthGuard {
    Parser& p;
    explicit DepthGuard(Parser& parser, const Token& t) : p(parser) {
      if (++p.depth_ > kMaxDepth) p.fail(t, "template nests deeper than " + std::to_string(kMaxDepth) + " levels");
    }
    ~DepthGuard() { --p.depth_; }
  };

  const Token& cur() const { return toks_[i_]; }
  const Token& peek(size_t k = 1) const { return toks_[std::min(i_ + k, toks_.size() - 1)]; }
  const Token& next() {
    const Token& t = toks_[i_];
    if (i_ + 1 < toks_.size()) ++i_;
    return t;
  }
  [[noreturn]] void fail(const Token& t, const std::string& msg) { throw SyntaxError(t.offset, msg); }
  bool is_op(std::string_view op) const { return cur().type == Tok::Operator && cur().text == op; }
  bool is_name(std::string_view n) const { return cur().type == Tok::Name && cur().text == n; }
  void expect_op(std::string_view op) {
    if (!is_op(op)) fail(cur(), "expected '" + std::string(op) + "', found " + describe(cur()));
    next();
  }
  void expect_name(std::string_view n) {
    if (!is_name(n)) fail(cur(), "expected '" + std::string(n) + "', found " + describe(cur()));
    next();
  }
  std::string expect_identifier(const char* what) {
    if (cur().type != Tok::Name) fail(cur(), std::string("expected ") + what + ", found " + describe(cur()));
    return next().text;
  }
  void expect_block_end() {
    if (cur().type != Tok::BlockEnd) fail(cur(), "expected end of statement '%}', found " + describe(cur()));
    next();
  }

  // ---- statements --------------------------------------------------------

  // Statements until `{% <one of end> %}`; leaves the cursor on that name.
  Body subparse(std::initializer_list<std::string_view> end) {
    Body body;
    for (;;) {
      const Token& t = cur();
      if (t.type == Tok::Eof) {
        if (end.size() == 0) return body;
        std::string want;
        for (auto e : end) want += (want.empty() ? "'" : " or '") + std::string(e) + "'";
        fail(t, "unexpected end of template: expected " + want + " to close the '" + open_.back().first +
                    "' opened at " + position(source_, open_.back().second));
      }
      if (t.type == Tok::Data) {
        auto s = std::make_unique<Stmt>();
        s->kind = Stmt::Kind::Data;
        s->offset = t.offset;
        s->data = t.text;
        body.push_back(std::move(s));
        next();
      } else if (t.type == Tok::VarBegin) {
        next();
        auto s = std::make_unique<Stmt>();
        s->kind = Stmt::Kind::Print;
        s->offset = t.offset;
        s->expr = parse_tuple(false, {});
        if (cur().type != Tok::VarEnd) fail(cur(), "expected end of print statement '}}', found " + describe(cur()));
        next();
        body.push_back(std::move(s));
      } else if (t.type == Tok::BlockBegin) {
        const Token& name = peek();
        if (name.type == Tok::Name)
          for (auto e : end)
            if (name.text == e) {
              next();
              return body;
            }
        next();
        body.push_back(parse_statement(end));
      } else {
        fail(t, "unexpected " + describe(t));
      }
    }
  }

  std::unique_ptr<Stmt> parse_statement(std::initializer_list<std::string_view> end) {
    const Token& t = cur();
    if (t.type != Tok::Name) fail(t, "expected a tag name after '{%', found " + describe(t));
    DepthGuard guard(*this, t);
    auto s = std::make_unique<Stmt>();
    s->offset = t.offset;
    const std::string& tag = t.text;
    if (tag == "if") return parse_if(std::move(s));
    if (tag == "for") return parse_for(std::move(s));
    if (tag == "set") return parse_set(std::move(s));
    if (tag == "macro") return parse_macro(std::move(s));
    if (tag == "filter") return parse_filter_block(std::move(s));
    if (tag == "with") return parse_with(std::move(s));
    if (tag == "generation") {  // transformers' AssistantTracker: the body renders unchanged
      next();
      expect_block_end();
      s->kind = Stmt::Kind::Scope;
      s->body = block_body("generation", s->offset, {"endgeneration"});
      next();
      expect_block_end();
      return s;
    }
    if (tag == "break" || tag == "continue") {
      bool in_loop = false;
      for (const auto& o : open_) in_loop = in_loop || o.first == "for";
      if (!in_loop) fail(t, "'" + tag + "' outside of a for loop");
      next();
      expect_block_end();
      s->kind = tag == "break" ? Stmt::Kind::Break : Stmt::Kind::Continue;
      return s;
    }
    if (tag == "include" || tag == "import" || tag == "from" || tag == "extends" || tag == "block")
      fail(t, "tag '" + tag + "' is not supported: chat templates have no access to other files");
    std::string msg = "unknown tag '" + tag + "'";
    if (!open_.empty()) {
      std::string want;
      for (auto e : end) want += (want.empty() ? "'" : " or '") + std::string(e) + "'";
      msg += "; expected " + want + " (the innermost open block is '" + open_.back().first + "')";
    }
    fail(t, msg);
  }

  Body block_body(const std::string& tag, size_t offset, std::initializer_list<std::string_view> end) {
    open_.emplace_back(tag, offset);
    Body b = subparse(end);
    open_.pop_back();
    return b;
  }

  std::unique_ptr<Stmt> parse_if(std::unique_ptr<Stmt> s) {
    s->kind = Stmt::Kind::If;
    next();  // if
    for (;;) {
      ExprPtr cond = parse_tuple(false, {}, false);
      expect_block_end();
      open_.emplace_back("if", s->offset);
      Body body = subparse({"elif", "else", "endif"});
      open_.pop_back();
      s->branches.emplace_back(std::move(cond), std::move(body));
      std::string which = next().text;
      if (which == "elif") continue;
      if (which == "else") {
        expect_block_end();
        s->else_body = block_body("if", s->offset, {"endif"});
        next();
      }
      expect_block_end();
      return s;
    }
  }

  Target parse_target(bool allow_namespace, std::string_view stop_name) {
    Target tg;
    if (allow_namespace && cur().type == Tok::Name && peek().type == Tok::Operator && peek().text == "." &&
        peek(2).type == Tok::Name) {
      tg.names.push_back(next().text);
      next();
      tg.attr = next().text;
      return tg;
    }
    bool paren = is_op("(");
    if (paren) next();
    for (;;) {
      tg.names.push_back(expect_identifier("a variable name"));
      if (!is_op(",")) break;
      tg.tuple = true;
      next();
      if ((paren && is_op(")")) || (!stop_name.empty() && is_name(stop_name)) || is_op("=") ||
          cur().type == Tok::BlockEnd)
        break;
    }
    if (paren) {
      expect_op(")");
      tg.tuple = true;
    }
    for (const auto& n : tg.names)
      if (n == "true" || n == "false" || n == "none" || n == "True" || n == "False" || n == "None")
        fail(cur(), "cannot assign to '" + n + "'");
    return tg;
  }

  std::unique_ptr<Stmt> parse_for(std::unique_ptr<Stmt> s) {
    s->kind = Stmt::Kind::For;
    next();  // for
    s->target = parse_target(false, "in");
    expect_name("in");
    s->expr = parse_tuple(false, {"recursive"}, false);
    if (is_name("if")) {
      next();
      s->loop_filter = parse_expression(true);
    }
    if (is_name("recursive")) fail(cur(), "recursive for loops are not supported");
    expect_block_end();
    open_.emplace_back("for", s->offset);
    s->body = subparse({"endfor", "else"});
    std::string which = next().text;
    if (which == "else") {
      expect_block_end();
      s->else_body = subparse({"endfor"});
      next();
    }
    open_.pop_back();
    expect_block_end();
    return s;
  }

  std::unique_ptr<Stmt> parse_set(std::unique_ptr<Stmt> s) {
    next();  // set
    s->target = parse_target(true, "");
    if (is_op("=")) {
      next();
      s->kind = Stmt::Kind::Set;
      s->expr = parse_tuple(false, {});
      expect_block_end();
      return s;
    }
    s->kind = Stmt::Kind::SetBlock;
    if (!s->target.attr.empty() || s->target.tuple) fail(cur(), "a block set assigns one plain variable");
    if (is_op("|")) s->expr = parse_filter_chain(nullptr);
    expect_block_end();
    s->body = block_body("set", s->offset, {"endset"});
    next();
    expect_block_end();
    return s;
  }

  std::unique_ptr<Stmt> parse_macro(std::unique_ptr<Stmt> s) {
    s->kind = Stmt::Kind::Macro;
    next();  // macro
    s->name = expect_identifier("a macro name");
    expect_op("(");
    while (!is_op(")")) {
      if (!s->params.empty()) expect_op(",");
      if (is_op(")")) break;
      std::string p = expect_identifier("a parameter name");
      ExprPtr def;
      if (is_op("=")) {
        next();
        def = parse_expression(true);
      } else if (!s->params.empty() && s->params.back().second) {
        fail(cur(), "parameter '" + p + "' without a default follows one with a default");
      }
      s->params.emplace_back(std::move(p), std::move(def));
    }
    next();
    expect_block_end();
    s->body = block_body("macro", s->offset, {"endmacro"});
    next();
    expect_block_end();
    return s;
  }

  std::unique_ptr<Stmt> parse_filter_block(std::unique_ptr<Stmt> s) {
    s->kind = Stmt::Kind::FilterBlock;
    next();  // filter
    s->expr = parse_filter_chain(nullptr, false);
    expect_block_end();
    s->body = block_body("filter", s->offset, {"endfilter"});
    next();
    expect_block_end();
    return s;
  }

  std::unique_ptr<Stmt> parse_with(std::unique_ptr<Stmt> s) {
    s->kind = Stmt::Kind::With;
    next();  // with
    while (cur().type != Tok::BlockEnd) {
      if (!s->assigns.empty()) expect_op(",");
      Target tg = parse_target(false, "");
      expect_op("=");
      s->assigns.emplace_back(std::move(tg), parse_expression(true));
    }
    next();
    s->body = block_body("with", s->offset, {"endwith"});
    next();
    expect_block_end();
    return s;
  }

  // ---- expressions -------------------------------------------------------

  ExprPtr make(Expr::Kind k, size_t offset) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->offset = offset;
    return e;
  }

  bool tuple_end(std::initializer_list<std::string_view> extra) const {
    if (cur().type == Tok::VarEnd || cur().type == Tok::BlockEnd || cur().type == Tok::Eof || is_op(")")) return true;
    for (auto n : extra)
      if (is_name(n)) return true;
    return false;
  }

  // a, b, c  (a tuple when there is a comma)
  ExprPtr parse_tuple(bool explicit_parens, std::initializer_list<std::string_view> extra, bool with_cond = true) {
    size_t off = cur().offset;
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    for (;;) {
      if (!items.empty()) expect_op(",");
      if (tuple_end(extra)) break;
      items.push_back(parse_expression(with_cond));
      if (is_op(","))
        is_tuple = true;
      else
        break;
    }
    if (!is_tuple) {
      if (!items.empty()) return std::move(items[0]);
      if (!explicit_parens) fail(cur(), "expected an expression, found " + describe(cur()));
    }
    auto t = make(Expr::Kind::Tuple, off);
    t->items = std::move(items);
    return t;
  }

  ExprPtr parse_expression(bool with_cond) {
    DepthGuard guard(*this, cur());
    ExprPtr e = parse_or();
    if (!with_cond) return e;
    while (is_name("if")) {
      size_t off = cur().offset;
      next();
      auto c = make(Expr::Kind::Cond, off);
      c->a = parse_or();
      c->b = std::move(e);
      if (is_name("else")) {
        next();
        c->c = parse_expression(true);
      }
      e = std::move(c);
    }
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr l = parse_and();
    while (is_name("or")) {
      auto e = make(Expr::Kind::Or, next().offset);
      e->a = std::move(l);
      e->b = parse_and();
      l = std::move(e);
    }
    return l;
  }

  ExprPtr parse_and() {
    ExprPtr l = parse_not();
    while (is_name("and")) {
      auto e = make(Expr::Kind::And, next().offset);
      e->a = std::move(l);
      e->b = parse_not();
      l = std::move(e);
    }
    return l;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      DepthGuard guard(*this, cur());
      auto e = make(Expr::Kind::Not, next().offset);
      e->a = parse_not();
      return e;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    size_t off = cur().offset;
    ExprPtr first = parse_math1();
    std::vector<std::string> ops;
    std::vector<ExprPtr> rest;
    for (;;) {
      if (cur().type == Tok::Operator &&
          (is_op("==") || is_op("!=") || is_op("<") || is_op("<=") || is_op(">") || is_op(">="))) {
        ops.push_back(next().text);
      } else if (is_name("in")) {
        next();
        ops.push_back("in");
      } else if (is_name("not") && peek().type == Tok::Name && peek().text == "in") {
        next();
        next();
        ops.push_back("not in");
      } else {
        break;
      }
      rest.push_back(parse_math1());
    }
    if (ops.empty()) return first;
    auto e = make(Expr::Kind::Compare, off);
    e->a = std::move(first);
    e->ops = std::move(ops);
    e->items = std::move(rest);
    return e;
  }

  ExprPtr binary(std::string op, ExprPtr l, ExprPtr r, size_t off) {
    auto e = make(Expr::Kind::Binary, off);
    e->name = std::move(op);
    e->a = std::move(l);
    e->b = std::move(r);
    return e;
  }

  ExprPtr parse_math1() {
    ExprPtr l = parse_concat();
    while (is_op("+") || is_op("-")) {
      const Token& t = next();
      l = binary(t.text, std::move(l), parse_concat(), t.offset);
    }
    return l;
  }

  ExprPtr parse_concat() {
    ExprPtr l = parse_math2();
    while (is_op("~")) {
      const Token& t = next();
      l = binary("~", std::move(l), parse_math2(), t.offset);
    }
    return l;
  }

  ExprPtr parse_math2() {
    ExprPtr l = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Token& t = next();
      l = binary(t.text, std::move(l), parse_pow(), t.offset);
    }
    return l;
  }

  ExprPtr parse_pow() {
    ExprPtr l = parse_unary(true);
    while (is_op("**")) {
      const Token& t = next();
      l = binary("**", std::move(l), parse_unary(true), t.offset);
    }
    return l;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(*this, cur());
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      const Token& t = next();
      node = make(t.text == "-" ? Expr::Kind::Neg : Expr::Kind::Pos, t.offset);
      node->a = parse_unary(false);
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    switch (t.type) {
      case Tok::Name: {
        next();
        if (t.text == "true" || t.text == "True") return literal(Value(true), t.offset);
        if (t.text == "false" || t.text == "False") return literal(Value(false), t.offset);
        if (t.text == "none" || t.text == "None") return literal(Value::none(), t.offset);
        auto e = make(Expr::Kind::Name, t.offset);
        e->name = t.text;
        return e;
      }
      case Tok::String: {
        std::string s;
        while (cur().type == Tok::String) s += next().text;  // adjacent literals join
        return literal(Value(std::move(s)), t.offset);
      }
      case Tok::Integer: next(); return literal(Value(t.int_value), t.offset);
      case Tok::Float: next(); return literal(Value(t.float_value), t.offset);
      case Tok::Operator:
        if (t.text == "(") {
          next();
          ExprPtr e = parse_tuple(true, {});
          expect_op(")");
          return e;
        }
        if (t.text == "[") {
          next();
          auto e = make(Expr::Kind::List, t.offset);
          while (!is_op("]")) {
            if (!e->items.empty()) expect_op(",");
            if (is_op("]")) break;
            e->items.push_back(parse_expression(true));
          }
          next();
          return e;
        }
        if (t.text == "{") {
          next();
          auto e = make(Expr::Kind::Dict, t.offset);
          while (!is_op("}")) {
            if (!e->items.empty()) expect_op(",");
            if (is_op("}")) break;
            e->items.push_back(parse_expression(true));
            expect_op(":");
            e->items.push_back(parse_expression(true));
          }
          next();
          return e;
        }
        break;
      default: break;
    }
    fail(t, "expected an expression, found " + describe(t));
  }

  ExprPtr literal(Value v, size_t off) {
    auto e = make(Expr::Kind::Literal, off);
    e->value = std::move(v);
    return e;
  }

  ExprPtr parse_postfix(ExprPtr node) {
    for (;;) {
      if (is_op(".")) {
        const Token& dot = next();
        if (cur().type == Tok::Name) {
          auto e = make(Expr::Kind::Attr, dot.offset);
          e->name = next().text;
          e->a = std::move(node);
          node = std::move(e);
        } else if (cur().type == Tok::Integer) {  // a.0 is a[0]
          auto e = make(Expr::Kind::Item, dot.offset);
          e->a = std::move(node);
          e->b = literal(Value(next().int_value), dot.offset);
          node = std::move(e);
        } else {
          fail(cur(), "expected an attribute name after '.', found " + describe(cur()));
        }
      } else if (is_op("[")) {
        node = parse_subscript(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr node) {
    const Token& open = next();
    DepthGuard guard(*this, open);
    ExprPtr parts[3];
    bool is_slice = false;
    int idx = 0;
    for (;;) {
      if (is_op(":")) {
        is_slice = true;
        if (++idx > 2) fail(cur(), "a slice has at most three parts");
        next();
        continue;
      }
      if (is_op("]")) break;
      if (parts[idx]) fail(cur(), "expected ':' or ']', found " + describe(cur()));
      parts[idx] = parse_expression(true);
    }
    next();
    auto e = make(is_slice ? Expr::Kind::Slice : Expr::Kind::Item, open.offset);
    e->a = std::move(node);
    if (is_slice) {
      e->b = std::move(parts[0]);
      e->c = std::move(parts[1]);
      e->items.push_back(std::move(parts[2]));
    } else {
      if (!parts[0]) fail(open, "expected an index inside '[]'");
      e->b = std::move(parts[0]);
    }
    return e;
  }

  Args parse_args() {
    expect_op("(");
    Args args;
    bool first = true;
    while (!is_op(")")) {
      if (!first) expect_op(",");
      first = false;
      if (is_op(")")) break;
      if (is_op("*") || is_op("**")) fail(cur(), "*args and **kwargs in calls are not supported");
      if (cur().type == Tok::Name && peek().type == Tok::Operator && peek().text == "=") {
        std::string key = next().text;
        next();
        args.keyword.emplace_back(std::move(key), parse_expression(true));
      } else {
        if (!args.keyword.empty()) fail(cur(), "positional argument after a keyword argument");
        args.positional.push_back(parse_expression(true));
      }
    }
    next();
    return args;
  }

  ExprPtr parse_call(ExprPtr node) {
    DepthGuard guard(*this, cur());
    auto e = make(Expr::Kind::Call, cur().offset);
    e->a = std::move(node);
    e->args = parse_args();
    return e;
  }

  // `| name(args) | name ...` (one filter when !chain).
  ExprPtr parse_filter_chain(ExprPtr node, bool chain = true) {
    bool first = true;
    while (first || (chain && is_op("|"))) {
      if (is_op("|")) next();
      else if (!first || node) fail(cur(), "expected '|'");
      first = false;
      const Token& t = cur();
      std::string name = expect_identifier("a filter name");
      while (is_op(".")) {
        next();
        name += '.';
        name += expect_identifier("a filter name");
      }
      if (!has_filter(name)) fail(t, "no filter named '" + name + "'");
      auto e = make(Expr::Kind::Filter, t.offset);
      e->name = name;
      e->a = std::move(node);
      if (is_op("(")) e->args = parse_args();
      node = std::move(e);
    }
    return node;
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    for (;;) {
      if (is_op("|")) {
        node = parse_filter_chain(std::move(node), false);
      } else if (is_name("is")) {
        node = parse_test(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_test(ExprPtr node) {
    next();  // is
    bool negated = false;
    if (is_name("not")) {
      next();
      negated = true;
    }
    const Token& t = cur();
    std::string name = expect_identifier("a test name");
    while (is_op(".")) {
      next();
      name += '.';
      name += expect_identifier("a test name");
    }
    if (!has_test(name)) fail(t, "no test named '" + name + "'");
    auto e = make(Expr::Kind::Test, t.offset);
    e->name = name;
    e->negated = negated;
    e->a = std::move(node);
    if (is_op("(")) {
      e->args = parse_args();
    } else if ((cur().type == Tok::Name || cur().type == Tok::String || cur().type == Tok::Integer ||
                cur().type == Tok::Float || is_op("(") || is_op("[") || is_op("{")) &&
               !is_name("else") && !is_name("or") && !is_name("and")) {
      if (is_name("is")) fail(cur(), "tests cannot be chained with 'is'");
      e->args.positional.push_back(parse_postfix(parse_primary()));
    }
    return e;
  }
};

}  // namespace

Body parse(const Lexed& lexed) {
  Parser p(lexed);
  return p.parse_all();
}

}  // namespace cloze::chat
