#pragma once
// How the CLI words a library error: the library says what an error is about
// as data (cloze::Subject); here an option's name becomes the flag that sets it.
#include <string>

#include "cloze/error.h"

namespace cloze::cli {

// The flag that sets a library option (Subject::Kind::Option), or "" when the
// option has no flag of its own.
std::string flag_of(const std::string& option);

// The one line `cloze: error: ...` prints: the message, plus the flag to
// change when the error is about an option.
std::string error_line(const Error& e);

}  // namespace cloze::cli
