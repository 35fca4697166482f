#pragma once
// Errors inside the interpreter. They become cloze::ChatTemplateError (with
// the template line and column) at the ChatTemplate boundary.
#include <stdexcept>
#include <string>

namespace cloze::chat {

// A runtime error: the evaluator adds the line and column of the node that
// was being evaluated.
class RenderError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The template called raise_exception(message): carried verbatim, as
// transformers' jinja2.exceptions.TemplateError(message) is.
class RaisedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A limit (output size, steps, depth) was hit: no position is added.
class LimitError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace cloze::chat
