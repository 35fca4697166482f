#pragma once
// A compiled PCRE2 pattern with HF `tokenizers` semantics: UTF mode with
// Unicode properties (UCP), so \s, \w, \d and \p{..} follow Unicode, which
// is what the Oniguruma engine used by `tokenizers` does. JIT-compiled when
// the platform allows.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace cloze::tok {

class Regex {
 public:
  // Throws cloze::Error naming `where` if the pattern does not compile.
  // literal=true matches `pattern` as a plain string.
  Regex(const std::string& pattern, bool literal, const std::string& where);
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;
  ~Regex();

  struct Span { size_t start, end; bool is_match; };
  // Splits `subject` (valid UTF-8) into the matches and the gaps between
  // them, in order, covering all of it; empty matches are dropped.
  void find_matches(std::string_view subject, std::vector<Span>& out) const;

 private:
  struct Code;
  std::unique_ptr<Code> code_;
};

}  // namespace cloze::tok
