// validate(GenerateOptions): the sampling settings' checks, apart from the
// decode loop so that what only checks requests (the server's parsers, their
// fuzz target) does not pull in the model.
#include <cmath>
#include <sstream>

#include "cloze/error.h"
#include "cloze/generate.h"
#include "tokenizer/utf8.h"

namespace cloze {

void validate(const GenerateOptions& opt) {
  auto bad = [](const std::string& field, const std::string& rule, double v) {
    std::ostringstream s;
    s << field << ": must be " << rule << ", got " << v;
    throw Error(s.str());
  };
  // Negated comparisons so that NaN is rejected too.
  if (!(opt.temperature >= 0) || std::isinf(opt.temperature))
    bad("temperature", "a finite number >= 0 (0 = greedy)", opt.temperature);
  if (!(opt.top_p > 0 && opt.top_p <= 1)) bad("top_p", "in (0, 1] (1 = off)", opt.top_p);
  if (!(opt.min_p >= 0 && opt.min_p <= 1)) bad("min_p", "in [0, 1] (0 = off)", opt.min_p);
  for (size_t i = 0; i < opt.stop.size(); ++i) {
    const std::string which = "stop: stop string " + std::to_string(i + 1);
    if (opt.stop[i].empty()) throw Error(which + " is empty");
    // Text is cut only at whole characters, so a stop string must be made of them.
    if (auto at = tok::utf8::first_invalid(opt.stop[i]))
      throw Error(which + " is not valid UTF-8 (at byte " + std::to_string(*at) + ")");
  }
}

}  // namespace cloze
