// GET /: the try-it page. Served values (model id, labels, template) are
// escaped, the page needs nothing from elsewhere, and it says so in its
// Content-Security-Policy. The browser test (tests/node/browser_test.mjs)
// drives the page itself.
#include <gtest/gtest.h>

#include "cloze/records.h"
#include "server_fixture.h"

namespace {

size_t count_of(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST(ServerPage, EscapesServedValuesAndFetchesNothing) {
  auto model = cloze::test::TinyModel::load();
  cloze::ServerOptions o = cloze::test::small_limits();
  o.model_id = "<img src=x onerror=alert(1)>@LABELS@";
  o.classifier.labels = {"good\"bad", "<meh>"};
  o.classifier.template_text = "</textarea><script>alert(1)</script>\nReview: {text} Answer:";
  cloze::test::LiveServer s(o, &model);
  auto c = s.client();
  auto res = c.Get("/");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(res->get_header_value("Content-Security-Policy").find("connect-src 'self'"), std::string::npos);
  const std::string& page = res->body;
  EXPECT_TRUE(cloze::valid_utf8(page));
  EXPECT_EQ(count_of(page, "<script"), 1u);  // the page's own
  EXPECT_EQ(count_of(page, "</textarea>"), 2u);  // the text box's and the template's
  EXPECT_EQ(page.find("<img"), std::string::npos);
  EXPECT_NE(page.find("&lt;img src=x onerror=alert(1)&gt;@LABELS@"), std::string::npos);  // not expanded again
  EXPECT_NE(page.find("value=\"good&quot;bad,&lt;meh&gt;\""), std::string::npos);
  // One newline after <textarea> is eaten by HTML parsers; the page adds it.
  EXPECT_NE(page.find(">\n&lt;/textarea&gt;&lt;script&gt;alert(1)&lt;/script&gt;\nReview: {text} Answer:</textarea>"),
            std::string::npos);
  for (const char* ref : {"http://", "https://", "src=\"", "href=", "@import", "url("})
    EXPECT_EQ(page.find(ref), std::string::npos) << ref;
  EXPECT_NE(page.find("fetch(\"/v1/classify\""), std::string::npos);
}

TEST(ServerPage, SaysWhenTheModelIsStillLoading) {
  cloze::test::LiveServer s(cloze::test::small_limits(), nullptr);
  auto res = s.client().Get("/");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->body.find("the model is still loading"), std::string::npos);
  EXPECT_NE(res->body.find("<input id=\"labels\" value=\"\"/>"), std::string::npos);
}
