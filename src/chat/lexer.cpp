// The lexer follows jinja2/lexer.py (3.1) rule by rule; see lexer.h.
#include "chat/lexer.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "chat/unicode.h"

namespace cloze::chat {
namespace {

// \r\n and \r become \n; one trailing newline goes.
std::string normalize(std::string_view src) {
  std::string out;
  out.reserve(src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    if (src[i] == '\r') {
      out += '\n';
      if (i + 1 < src.size() && src[i + 1] == '\n') ++i;
    } else {
      out += src[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

bool ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// Python's str.rstrip() (Unicode whitespace).
std::string rstrip(std::string_view s) {
  std::u32string u = utf8_decode(s);
  size_t n = u.size();
  while (n > 0 && is_space(u[n - 1])) --n;
  return utf8_encode(std::u32string_view(u).substr(0, n));
}

bool all_space(std::string_view s) {
  if (s.empty()) return false;  // `\s+` needs one character
  for (char32_t c : utf8_decode(s))
    if (!is_space(c)) return false;
  return true;
}

// Length of the whitespace run at `pos` (Python's \s, Unicode).
size_t skip_space(const std::string& s, size_t pos) {
  size_t p = pos;
  while (p < s.size()) {
    if (ascii_space(s[p])) { ++p; continue; }
    unsigned char b = static_cast<unsigned char>(s[p]);
    if (b < 0x80) break;
    size_t len = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
    std::u32string u = utf8_decode(std::string_view(s).substr(p, len));
    if (u.size() != 1 || !is_space(u[0]) || u[0] == 0xFFFD) break;
    p += len;
  }
  return p - pos;
}

void append_utf8(std::string& out, uint32_t c) { utf8_append(out, static_cast<char32_t>(c)); }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Python's "unicode-escape" decoding of a string literal's body.
std::string unescape(std::string_view body, size_t offset) {
  std::string out;
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c != '\\' || i + 1 >= body.size()) {
      out += c;
      continue;
    }
    char e = body[++i];
    switch (e) {
      case '\n': break;  // line continuation
      case '\\': out += '\\'; break;
      case '\'': out += '\''; break;
      case '"': out += '"'; break;
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case 'x': case 'u': case 'U': {
        size_t digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        uint32_t v = 0;
        for (size_t k = 0; k < digits; ++k) {
          int h = i + 1 + k < body.size() ? hex_value(body[i + 1 + k]) : -1;
          if (h < 0) throw SyntaxError(offset, std::string("truncated \\") + e + " escape in a string literal");
          v = v * 16 + static_cast<uint32_t>(h);
        }
        if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
          throw SyntaxError(offset, "illegal Unicode character in a string literal");
        i += digits;
        append_utf8(out, v);
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          uint32_t v = static_cast<uint32_t>(e - '0');
          for (int k = 0; k < 2 && i + 1 < body.size() && body[i + 1] >= '0' && body[i + 1] <= '7'; ++k)
            v = v * 8 + static_cast<uint32_t>(body[++i] - '0');
          append_utf8(out, v);
        } else {
          out += '\\';  // unknown escapes stay as written
          out += e;
        }
    }
  }
  return out;
}

struct Lexer {
  std::string src;
  std::vector<Token> out;
  bool line_starting = true;

  bool at(size_t pos, std::string_view s) const { return src.compare(pos, s.size(), s) == 0; }

  void emit(Tok t, std::string text, size_t offset) {
    Token tok;
    tok.type = t;
    tok.text = std::move(text);
    tok.offset = offset;
    out.push_back(std::move(tok));
  }

  // Data before a tag, with `-` (strip all) or lstrip_blocks applied.
  void emit_data(std::string_view text, size_t offset, char sign, bool is_variable) {
    std::string t(text);
    if (sign == '-') {
      t = rstrip(t);
    } else if (sign != '+' && !is_variable) {
      size_t nl = t.rfind('\n');
      size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
      if ((l_pos > 0 || line_starting) && all_space(std::string_view(t).substr(l_pos))) t.resize(l_pos);
    }
    if (!t.empty()) emit(Tok::Data, std::move(t), offset);
  }

  // `+%}` | `-%}\s*` | `%}\n?` (trim_blocks); returns the end or npos.
  size_t match_block_end(size_t p, std::string_view end, bool trim) const {
    if (at(p, "+") && at(p + 1, end)) return p + 1 + end.size();
    if (at(p, "-") && at(p + 1, end)) {
      size_t q = p + 1 + end.size();
      return q + skip_space(src, q);
    }
    if (at(p, end)) {
      size_t q = p + end.size();
      if (trim && q < src.size() && src[q] == '\n') ++q;
      return q;
    }
    return std::string::npos;
  }

  // Tokens inside {% %} or {{ }} up to the end marker; returns the position after it.
  size_t lex_tag(size_t p, bool block) {
    std::vector<char> balance;
    std::string_view end = block ? "%}" : "}}";
    for (;;) {
      if (balance.empty()) {
        size_t q;
        if (block) {
          q = match_block_end(p, end, true);
        } else if (at(p, "-}}")) {
          q = p + 3 + skip_space(src, p + 3);
        } else {
          q = at(p, "}}") ? p + 2 : std::string::npos;
        }
        if (q != std::string::npos) {
          emit(block ? Tok::BlockEnd : Tok::VarEnd, "", p);
          line_starting = src[q - 1] == '\n';
          return q;
        }
      }
      p += skip_space(src, p);
      if (p >= src.size())
        throw SyntaxError(p, std::string("unexpected end of template: expected '") + std::string(end) +
                                 "' to close the tag");
      if (balance.empty()) {  // the end marker may follow whitespace
        if (block ? match_block_end(p, end, true) != std::string::npos
                  : (at(p, "-}}") || at(p, "}}")))
          continue;
      }
      char c = src[p];
      if (std::isdigit(static_cast<unsigned char>(c))) {
        p = lex_number(p);
      } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t q = p;
        while (q < src.size() && (std::isalnum(static_cast<unsigned char>(src[q])) || src[q] == '_')) ++q;
        emit(Tok::Name, src.substr(p, q - p), p);
        p = q;
      } else if (c == '\'' || c == '"') {
        size_t q = p + 1;
        while (q < src.size() && src[q] != c) q += src[q] == '\\' ? 2 : 1;
        if (q >= src.size()) throw SyntaxError(p, "unterminated string literal");
        emit(Tok::String, unescape(std::string_view(src).substr(p + 1, q - p - 1), p), p);
        p = q + 1;
      } else {
        static const char* const kOps[] = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~",
                                           "[", "]", "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"};
        std::string op;
        for (const char* o : kOps)
          if (at(p, o)) { op = o; break; }
        if (op.empty()) {
          std::string ch;
          size_t len = static_cast<unsigned char>(c) < 0x80 ? 1 : static_cast<unsigned char>(c) >= 0xF0 ? 4
                       : static_cast<unsigned char>(c) >= 0xE0 ? 3 : 2;
          throw SyntaxError(p, "unexpected character '" + src.substr(p, len) + "' in a tag");
        }
        if (op == "(" || op == "[" || op == "{") balance.push_back(op == "(" ? ')' : op == "[" ? ']' : '}');
        if (op == ")" || op == "]" || op == "}") {
          if (balance.empty()) throw SyntaxError(p, "unexpected '" + op + "'");
          if (balance.back() != op[0])
            throw SyntaxError(p, std::string("unexpected '") + op + "', expected '" + balance.back() + "'");
          balance.pop_back();
        }
        emit(Tok::Operator, op, p);
        p += op.size();
      }
    }
  }

  size_t lex_number(size_t p) {
    auto digits = [&](size_t q) {
      size_t s = q;
      while (q < src.size() && (std::isdigit(static_cast<unsigned char>(src[q])) ||
                                (src[q] == '_' && q > s && q + 1 < src.size() &&
                                 std::isdigit(static_cast<unsigned char>(src[q + 1])))))
        ++q;
      return q;
    };
    size_t q = digits(p);
    bool is_float = false;
    if (q + 1 < src.size() && src[q] == '.' && std::isdigit(static_cast<unsigned char>(src[q + 1]))) {
      q = digits(q + 1);
      is_float = true;
    }
    if (q < src.size() && (src[q] == 'e' || src[q] == 'E')) {
      size_t r = q + 1;
      if (r < src.size() && (src[r] == '+' || src[r] == '-')) ++r;
      if (r < src.size() && std::isdigit(static_cast<unsigned char>(src[r]))) {
        q = digits(r);
        is_float = true;
      }
    }
    std::string text;
    for (size_t i = p; i < q; ++i)
      if (src[i] != '_') text += src[i];
    Token tok;
    tok.offset = p;
    tok.text = text;
    if (is_float) {
      tok.type = Tok::Float;
      tok.float_value = std::strtod(text.c_str(), nullptr);
    } else {
      tok.type = Tok::Integer;
      errno = 0;
      tok.int_value = std::strtoll(text.c_str(), nullptr, 10);
      if (errno == ERANGE) throw SyntaxError(p, "integer literal " + text + " is too large");
    }
    out.push_back(std::move(tok));
    return q;
  }

  // `{%(-|+|)\s*raw\s*(-%}\s*|%})` at p: returns the end of that tag or npos.
  size_t match_raw(size_t p, std::string_view word) const {
    size_t q = p + 2;
    if (q < src.size() && (src[q] == '-' || src[q] == '+')) ++q;
    q += skip_space(src, q);
    if (!at(q, word)) return std::string::npos;
    q += word.size();
    if (q < src.size() && (std::isalnum(static_cast<unsigned char>(src[q])) || src[q] == '_')) return std::string::npos;
    q += skip_space(src, q);
    return q;
  }

  void run() {
    size_t pos = 0;
    while (pos < src.size()) {
      size_t tag = std::string::npos;
      for (size_t p = src.find('{', pos); p != std::string::npos; p = src.find('{', p + 1)) {
        if (p + 1 < src.size() && (src[p + 1] == '{' || src[p + 1] == '%' || src[p + 1] == '#')) {
          tag = p;
          break;
        }
      }
      if (tag == std::string::npos) {
        emit(Tok::Data, src.substr(pos), pos);
        break;
      }
      char kind = src[tag + 1];
      char sign = tag + 2 < src.size() && (src[tag + 2] == '-' || src[tag + 2] == '+') ? src[tag + 2] : 0;
      std::string_view text = std::string_view(src).substr(pos, tag - pos);
      size_t after = tag + 2 + (sign ? 1 : 0);
      if (kind == '%') {
        size_t raw_end = match_raw(tag, "raw");
        if (raw_end != std::string::npos) {
          size_t q = std::string::npos;
          if (at(raw_end, "-%}")) q = raw_end + 3 + skip_space(src, raw_end + 3);
          else if (at(raw_end, "%}")) q = raw_end + 2;
          if (q != std::string::npos) {
            emit_data(text, pos, sign, false);
            pos = lex_raw(q, tag);
            continue;
          }
        }
      }
      emit_data(text, pos, sign, kind == '{');
      line_starting = false;
      if (kind == '#') {
        pos = skip_comment(after, tag);
      } else {
        emit(kind == '%' ? Tok::BlockBegin : Tok::VarBegin, "", tag);
        pos = lex_tag(after, kind == '%');
      }
    }
    emit(Tok::Eof, "", src.size());
  }

  size_t skip_comment(size_t p, size_t start) {
    for (size_t q = src.find("#}", p); q != std::string::npos; q = src.find("#}", q + 1)) {
      size_t end;
      if (q > p && src[q - 1] == '-') {
        end = q + 2 + skip_space(src, q + 2);
      } else if (q > p && src[q - 1] == '+') {
        end = q + 2;
      } else {
        end = q + 2;
        if (end < src.size() && src[end] == '\n') ++end;
      }
      line_starting = src[end - 1] == '\n';
      return end;
    }
    throw SyntaxError(start, "missing end of comment tag '#}'");
  }

  // The body of {% raw %} up to {% endraw %}, as data.
  size_t lex_raw(size_t p, size_t start) {
    for (size_t q = src.find("{%", p); q != std::string::npos; q = src.find("{%", q + 1)) {
      size_t e = match_raw(q, "endraw");
      if (e == std::string::npos) continue;
      size_t end = match_block_end(e, "%}", true);
      if (end == std::string::npos) continue;
      char sign = q + 2 < src.size() && (src[q + 2] == '-' || src[q + 2] == '+') ? src[q + 2] : 0;
      line_starting = false;
      emit_data(std::string_view(src).substr(p, q - p), p, sign, false);
      line_starting = src[end - 1] == '\n';
      return end;
    }
    throw SyntaxError(start, "missing {% endraw %} for this {% raw %}");
  }
};

}  // namespace

Lexed lex(std::string_view source) {
  Lexer l;
  l.src = normalize(source);
  l.run();
  return Lexed{std::move(l.src), std::move(l.out)};
}

std::string position(std::string_view source, size_t offset) {
  size_t line = 1, col = 1;
  for (size_t i = 0; i < offset && i < source.size(); ++i) {
    if (source[i] == '\n') {
      ++line;
      col = 1;
    } else if ((static_cast<unsigned char>(source[i]) & 0xC0) != 0x80) {
      ++col;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(col);
}

}  // namespace cloze::chat
