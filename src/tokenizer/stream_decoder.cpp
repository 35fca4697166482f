#include "tokenizer/stream_decoder.h"

#include <span>

namespace cloze::tok {

namespace {
// U+FFFD in UTF-8: what decode puts where bytes do not (yet) form a character.
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
}  // namespace

std::string StreamDecoder::decode_from(size_t begin) const {
  return tok_.decode(std::span<const int32_t>(ids_).subspan(begin));
}

std::string StreamDecoder::push(int32_t id) {
  ids_.push_back(id);
  const std::string before = tok_.decode(std::span<const int32_t>(ids_).subspan(context_, ready_ - context_));
  const std::string now = decode_from(context_);
  // A trailing U+FFFD most likely stands for a character whose remaining
  // bytes are in tokens still to come: hold it. (A genuine U+FFFD is only
  // delayed by one token, never lost: flush() or the next push returns it.)
  if (now.size() <= before.size() || now.ends_with(kReplacement) || !now.starts_with(before)) return {};
  // Keep one token of context: enough for the joins decoders make.
  context_ = ready_;
  ready_ = ids_.size();
  return now.substr(before.size());
}

std::string StreamDecoder::flush() {
  const std::string before = tok_.decode(std::span<const int32_t>(ids_).subspan(context_, ready_ - context_));
  const std::string now = decode_from(context_);
  // Unreachable for the supported decoders, which only ever append.
  std::string out = now.starts_with(before) ? now.substr(before.size()) : decode_from(ready_);
  context_ = ready_ = ids_.size();
  return out;
}

}  // namespace cloze::tok
