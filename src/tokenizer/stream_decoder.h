#pragma once
// Token-by-token detokenization for streaming. A byte-level BPE token can end
// in the middle of a multi-byte UTF-8 character; its text is held back until
// the character is complete, so every piece returned is valid UTF-8 and the
// pieces concatenate to what Tokenizer::decode gives for all the ids.
#include <cstdint>
#include <string>
#include <vector>

#include "cloze/tokenizer.h"

namespace cloze::tok {

class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok) : tok_(tok) {}

  // Adds one id; returns the text that became complete (possibly empty).
  std::string push(int32_t id);
  // Whatever is still held (an unfinished character comes out as U+FFFD, as
  // Tokenizer::decode writes it). Call once at the end.
  std::string flush();

 private:
  std::string decode_from(size_t begin) const;

  const Tokenizer& tok_;
  std::vector<int32_t> ids_;
  // ids_[context_, ready_) were already returned; they are decoded again with
  // the new ids so that decoders which join tokens (spaces between tokens, a
  // leading space stripped) see their left neighbour. ids_[ready_, end) are held.
  size_t context_ = 0;
  size_t ready_ = 0;
};

}  // namespace cloze::tok
