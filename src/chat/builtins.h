#pragma once
// Jinja2's filters and tests as transformers' environment has them, plus the
// methods of str / list / dict that templates call.
#include <string_view>

#include "chat/value.h"

namespace cloze::chat {

class Interpreter;

bool has_filter(std::string_view name);
bool has_test(std::string_view name);
// `input` is the filtered value; args exclude it.
Value apply_filter(Interpreter& in, std::string_view name, const Value& input, CallArgs& args);
bool apply_test(Interpreter& in, std::string_view name, const Value& input, CallArgs& args);
// obj.name as a bound method, or an Undefined value when the type has no such
// method. Mutating methods (append, update, ...) raise, as in the sandbox.
Value method(const Value& obj, const std::string& name);

// Python's fmt % args (a tuple supplies several).
std::string percent_format(const std::string& fmt, const Value& args);

// Python's json.dumps(v, ensure_ascii, indent, separators, sort_keys).
std::string json_dumps(const Value& v, bool ensure_ascii, const Value& indent, const Value& separators, bool sort_keys);

}  // namespace cloze::chat
