// The escaping HTML writer.
#include "report/html.h"

#include <cstdint>
#include <cstdio>

#include "cloze/error.h"

namespace cloze::report {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the valid UTF-8 sequence at s[i], or 0 when it is not one.
size_t utf8_length(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  size_t len;
  uint32_t cp;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F;
  else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07;
  else return 0;
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(k) & 0x3F);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;  // overlong, too big
  if (cp >= 0xD800 && cp <= 0xDFFF) return 0;  // surrogates
  return len;
}

bool name_ok(std::string_view n) {
  if (n.empty() || !((n[0] >= 'a' && n[0] <= 'z') || (n[0] >= 'A' && n[0] <= 'Z'))) return false;
  for (char c : n)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == ':'))
      return false;
  return true;
}

}  // namespace

std::string to_valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_length(s, i);
    if (n == 0) {
      out += kReplacement;
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string escape_html(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_length(s, i);
    if (n == 0) {
      out += kReplacement;
      ++i;
      continue;
    }
    if (n > 1) {
      out.append(s.substr(i, n));
      i += n;
      continue;
    }
    const char c = s[i++];
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      case '\t': case '\n': case '\r': out += c; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) out += kReplacement;
        else out += c;
    }
  }
  return out;
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

HtmlWriter::HtmlWriter() { out_ = "<!DOCTYPE html>\n"; }

void HtmlWriter::write_open(std::string_view tag, const Attr* begin, const Attr* end, bool self_close) {
  if (!name_ok(tag)) throw Error("html: bad tag name '" + std::string(tag) + "'");
  out_ += '<';
  out_ += tag;
  for (const Attr* a = begin; a != end; ++a) {
    if (!name_ok(a->name)) throw Error("html: bad attribute name '" + std::string(a->name) + "'");
    out_ += ' ';
    out_ += a->name;
    out_ += "=\"";
    out_ += escape_html(a->value);
    out_ += '"';
  }
  out_ += self_close ? "/>" : ">";
}

HtmlWriter& HtmlWriter::open(std::string_view tag, std::initializer_list<Attr> attrs) {
  write_open(tag, attrs.begin(), attrs.end(), false);
  open_.emplace_back(tag);
  return *this;
}

HtmlWriter& HtmlWriter::open(std::string_view tag, const std::vector<Attr>& attrs) {
  write_open(tag, attrs.data(), attrs.data() + attrs.size(), false);
  open_.emplace_back(tag);
  return *this;
}

HtmlWriter& HtmlWriter::close() {
  if (open_.empty()) throw Error("html: close() with no open element");
  out_ += "</" + open_.back() + ">";
  open_.pop_back();
  // A line break after block-level closes keeps the file readable in a diff.
  if (open_.size() <= 3) out_ += '\n';
  return *this;
}

HtmlWriter& HtmlWriter::text(std::string_view s) {
  out_ += escape_html(s);
  return *this;
}

HtmlWriter& HtmlWriter::element(std::string_view tag, std::string_view s, std::initializer_list<Attr> attrs) {
  return open(tag, attrs).text(s).close();
}

HtmlWriter& HtmlWriter::empty(std::string_view tag, std::initializer_list<Attr> attrs) {
  write_open(tag, attrs.begin(), attrs.end(), true);
  return *this;
}

HtmlWriter& HtmlWriter::empty(std::string_view tag, const std::vector<Attr>& attrs) {
  write_open(tag, attrs.data(), attrs.data() + attrs.size(), true);
  return *this;
}

HtmlWriter& HtmlWriter::style(std::string_view css) {
  if (css.find("</") != std::string_view::npos) throw Error("html: a style sheet may not contain \"</\"");
  out_ += "<style>";
  out_ += css;
  out_ += "</style>\n";
  return *this;
}

std::string HtmlWriter::finish() {
  if (!open_.empty()) throw Error("html: <" + open_.back() + "> is still open");
  return std::move(out_);
}

}  // namespace cloze::report
