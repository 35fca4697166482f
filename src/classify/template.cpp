#include "cloze/classify.h"
#include "cloze/error.h"

namespace cloze {

static constexpr std::string_view kSlot = "{text}";

PromptTemplate::PromptTemplate(std::string text) : text_(std::move(text)) {
  size_t start = 0;
  for (;;) {
    size_t at = text_.find(kSlot, start);
    if (at == std::string::npos) break;
    parts_.push_back(text_.substr(start, at - start));
    start = at + kSlot.size();
  }
  if (parts_.empty())
    throw Error("template has no {text} placeholder, so the text would never reach the model: \"" +
                (text_.size() > 80 ? text_.substr(0, 80) + "..." : text_) + "\"", Subject::option("template_text"));
  parts_.push_back(text_.substr(start));
}

std::string PromptTemplate::fill(std::string_view text) const {
  std::string out = parts_[0];
  for (size_t i = 1; i < parts_.size(); ++i) {
    out += text;
    out += parts_[i];
  }
  return out;
}

}  // namespace cloze
