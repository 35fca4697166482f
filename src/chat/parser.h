#pragma once
// Tokens -> statements, following jinja2/parser.py's grammar and operator
// precedence. Unknown tags, filters and tests are errors at parse time, as in
// Jinja2. Nesting is bounded so a hostile template cannot exhaust the stack.
#include "chat/ast.h"
#include "chat/lexer.h"

namespace cloze::chat {

// Throws SyntaxError (offset + what was expected and found).
Body parse(const Lexed& lexed);

}  // namespace cloze::chat
