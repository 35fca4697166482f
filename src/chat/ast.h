#pragma once
// The parsed template: expressions and statements, each remembering the byte
// offset it starts at so errors can name a line and column.
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "chat/value.h"

namespace cloze::chat {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Args {
  std::vector<ExprPtr> positional;
  std::vector<std::pair<std::string, ExprPtr>> keyword;
};

struct Expr {
  enum class Kind {
    Literal,   // value
    Name,      // name
    List,      // items
    Tuple,     // items
    Dict,      // items as key, value pairs
    Attr,      // a.name
    Item,      // a[b]
    Slice,     // a[b:c:d]; missing parts are null
    Call,      // a(args)
    Filter,    // a | name(args); a is null in a {% filter %} block
    Test,      // a is [not] name(args)
    Neg, Pos, Not,        // unary on a
    Binary,    // a op b: + - * / // % ** ~ in "not in"
    And, Or,   // short-circuit
    Compare,   // a op b [op c ...]: ops/items
    Cond,      // b if a else c (c may be null)
  };
  Kind kind;
  size_t offset = 0;
  Value value;
  std::string name;  // name, attribute, filter, test, or binary operator
  bool negated = false;
  ExprPtr a, b, c;
  std::vector<ExprPtr> items;
  std::vector<std::string> ops;  // Compare
  Args args;
};

struct Stmt;
using Body = std::vector<std::unique_ptr<Stmt>>;

// The left side of set / for: a name, `ns.attr`, or a tuple of names.
struct Target {
  std::vector<std::string> names;  // one name, or several for unpacking
  std::string attr;                // `ns.attr` when non-empty (names = {ns})
  bool tuple = false;
};

struct Stmt {
  enum class Kind { Data, Print, If, For, Set, SetBlock, Macro, FilterBlock, Break, Continue, With, Scope };
  Kind kind;
  size_t offset = 0;
  std::string data;                                // Data
  ExprPtr expr;                                    // Print, Set, For's iterable, FilterBlock/SetBlock filter
  std::vector<std::pair<ExprPtr, Body>> branches;  // If: condition, body
  Body body, else_body;
  Target target;
  ExprPtr loop_filter;                             // For ... if cond
  std::string name;                                // Macro
  std::vector<std::pair<std::string, ExprPtr>> params;  // Macro (default may be null)
  std::vector<std::pair<Target, ExprPtr>> assigns;      // With
};

}  // namespace cloze::chat
