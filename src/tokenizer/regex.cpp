#include "tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "cloze/error.h"

namespace cloze::tok {

struct Regex::Code {
  pcre2_code* code = nullptr;
  ~Code() { pcre2_code_free(code); }
};

namespace {

// One match-data block per thread, big enough for the whole-match pair:
// Tokenizer::encode is const and may run on many threads at once.
pcre2_match_data* thread_match_data() {
  struct Holder {
    pcre2_match_data* md = pcre2_match_data_create(1, nullptr);
    ~Holder() { pcre2_match_data_free(md); }
  };
  thread_local Holder h;
  return h.md;
}

}  // namespace

Regex::Regex(const std::string& pattern, bool literal, const std::string& where) : code_(std::make_unique<Code>()) {
  int err = 0;
  PCRE2_SIZE off = 0;
  // PCRE2 rejects UCP together with LITERAL (it has no classes to affect).
  const uint32_t opts = literal ? (PCRE2_UTF | PCRE2_LITERAL) : (PCRE2_UTF | PCRE2_UCP);
  code_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), opts, &err, &off, nullptr);
  if (!code_->code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    throw Error(where + ": the regular expression does not compile at offset " + std::to_string(off) + ": " +
                reinterpret_cast<const char*>(msg));
  }
  // JIT is an optimization only: if unavailable, pcre2_match interprets.
  pcre2_jit_compile(code_->code, PCRE2_JIT_COMPLETE);
}

Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;
Regex::~Regex() = default;

void Regex::find_matches(std::string_view subject, std::vector<Span>& out) const {
  pcre2_match_data* md = thread_match_data();
  const auto* s = reinterpret_cast<PCRE2_SPTR>(subject.data());
  const size_t n = subject.size();
  size_t pos = 0;   // where the next search starts
  size_t prev = 0;  // end of the last match
  while (pos <= n) {
    // The subject was validated once up front; skip PCRE2's per-call check
    // (it would rescan the whole subject on every call).
    const int rc = pcre2_match(code_->code, s, n, pos, PCRE2_NO_UTF_CHECK, md, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {  // rc == 0 only means the ovector is short; we read pair 0 only
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(rc, msg, sizeof msg);
      throw Error(std::string("pre-tokenizer regex failed while matching: ") + reinterpret_cast<const char*>(msg));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    const size_t ms = ov[0], me = ov[1];
    if (me == ms) {
      // Empty match: nothing to split off; move one character forward.
      if (ms >= n) break;
      pos = ms + 1;
      while (pos < n && (static_cast<unsigned char>(subject[pos]) & 0xC0) == 0x80) ++pos;
      continue;
    }
    if (ms > prev) out.push_back({prev, ms, false});
    out.push_back({ms, me, true});
    prev = pos = me;
  }
  if (prev < n) out.push_back({prev, n, false});
}

}  // namespace cloze::tok
