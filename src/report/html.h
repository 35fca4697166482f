#pragma once
// A small HTML writer that escapes every text and attribute value it is
// given, so that no input (a review containing </textarea> or <script>, a
// label with quotes, invalid UTF-8) can change the page's structure. Tag and
// attribute names come from our code and are checked, never escaped.
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace cloze::report {

// Valid UTF-8: each invalid sequence (bad lead or continuation byte,
// overlong form, surrogate, past U+10FFFF, cut short) becomes U+FFFD.
std::string to_valid_utf8(std::string_view s);

// Text for an HTML text node or a quoted attribute value: & < > " '
// become entities; invalid UTF-8 and control characters other than tab,
// newline and carriage return become U+FFFD.
std::string escape_html(std::string_view s);

// A number with `digits` decimals ("%.*f"), for text and SVG coordinates.
std::string fixed(double v, int digits);

struct Attr {
  std::string_view name;
  std::string value;  // escaped when written
};

class HtmlWriter {
 public:
  // <!DOCTYPE html> is written first.
  HtmlWriter();

  // <tag name="value" ...>; closed by close(). Throws cloze::Error for a tag
  // or attribute name that is not [a-zA-Z][a-zA-Z0-9-:]*.
  HtmlWriter& open(std::string_view tag, std::initializer_list<Attr> attrs = {});
  HtmlWriter& open(std::string_view tag, const std::vector<Attr>& attrs);
  // Closes the innermost open element.
  HtmlWriter& close();
  // Escaped text.
  HtmlWriter& text(std::string_view s);
  // open + text + close.
  HtmlWriter& element(std::string_view tag, std::string_view text, std::initializer_list<Attr> attrs = {});
  // A self-closed element (<meta .../>, <rect .../>).
  HtmlWriter& empty(std::string_view tag, std::initializer_list<Attr> attrs = {});
  HtmlWriter& empty(std::string_view tag, const std::vector<Attr>& attrs);
  // <style>css</style>: our own style sheet; throws if it contains "</".
  HtmlWriter& style(std::string_view css);

  // The document; throws cloze::Error if an element is still open.
  std::string finish();

 private:
  void write_open(std::string_view tag, const Attr* begin, const Attr* end, bool self_close);

  std::string out_;
  std::vector<std::string> open_;
};

}  // namespace cloze::report
