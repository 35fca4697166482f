#pragma once
// Errors cross module boundaries as exceptions and are reported once, at the
// CLI / server / API boundary, as a single line naming the thing that is wrong.
#include <stdexcept>
#include <string>

namespace cloze {

// A problem with input the user gave us (a file, a flag, a request field).
// what() must name the thing (file, tensor, field, row), what was expected,
// what was found and, where useful, what to do.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace cloze
