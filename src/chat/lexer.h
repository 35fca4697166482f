#pragma once
// Template source -> tokens, with Jinja2's whitespace rules as transformers
// configures them: trim_blocks (the newline after a block or comment tag is
// dropped), lstrip_blocks (blanks before a block or comment tag at the start
// of a line are dropped), `-`/`+` on tag edges, \r\n -> \n, and one trailing
// newline of the source dropped (keep_trailing_newline=False).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cloze::chat {

enum class Tok { Data, BlockBegin, BlockEnd, VarBegin, VarEnd, Name, String, Integer, Float, Operator, Eof };

struct Token {
  Tok type;
  std::string text;  // data, name, operator, or a string literal's decoded value
  int64_t int_value = 0;
  double float_value = 0;
  size_t offset = 0;  // byte offset in the normalized source
};

struct Lexed {
  std::string source;  // normalized (newlines) source the offsets refer to
  std::vector<Token> tokens;
};

// Throws SyntaxError on an unterminated tag, comment or string, or a
// character that cannot start a token.
Lexed lex(std::string_view source);

// "line L, column C" of a byte offset in `source` (columns count characters).
std::string position(std::string_view source, size_t offset);

class SyntaxError : public std::exception {
 public:
  SyntaxError(size_t offset, std::string message) : offset_(offset), message_(std::move(message)) {}
  size_t offset() const { return offset_; }
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  size_t offset_;
  std::string message_;
};

}  // namespace cloze::chat
