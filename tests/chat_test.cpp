// The chat-template interpreter: every golden rendering of transformers'
// apply_chat_template (tests/fixtures/chat/golden_cases.jsonl, made with
// transformers + Jinja2 3.1.2), error positions, raise_exception, the limits
// that keep hostile templates bounded, and where a model's template is found.
// (chat_jinja2_compare in CMakeLists.txt compares 700+ more cases with Jinja2.)
#include <gtest/gtest.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "cloze/chat.h"
#include "test_util.h"

namespace cloze {
namespace {

using ojson = nlohmann::ordered_json;

std::time_t jan15() {
  std::tm tm{};
  tm.tm_year = 2026 - 1900;
  tm.tm_mon = 0;
  tm.tm_mday = 15;
  tm.tm_isdst = -1;
  return std::mktime(&tm);
}

std::string render(const std::string& tmpl, const ojson& vars = ojson::object()) {
  ChatRenderOptions opt;
  opt.now = jan15();
  return ChatTemplate(tmpl).render(vars, opt);
}

std::string render_error(const std::string& tmpl, const ojson& vars = ojson::object()) {
  try {
    render(tmpl, vars);
  } catch (const ChatTemplateError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ChatGolden, EveryCaseRendersAsTransformers) {
  std::ifstream in(std::string(CLOZE_FIXTURES) + "/chat/golden_cases.jsonl");
  ASSERT_TRUE(in) << "missing golden_cases.jsonl";
  std::string line;
  size_t n = 0, rendered = 0, raised = 0;
  while (std::getline(in, line)) {
    ojson row = ojson::parse(line);
    SCOPED_TRACE(row["template_id"].get<std::string>() + " " + row["case"].get<std::string>());
    ModelChatTemplate tokens;
    if (row["bos_token"].is_string()) tokens.bos_token = row["bos_token"].get<std::string>();
    if (row["eos_token"].is_string()) tokens.eos_token = row["eos_token"].get<std::string>();
    ChatInput input;
    input.messages = row["messages"];
    input.add_generation_prompt = row["add_generation_prompt"].get<bool>();
    for (const auto& [k, v] : row["kwargs"].items()) {
      if (k == "tools") input.tools = v;
      else if (k == "documents") input.documents = v;
      else input.kwargs[k] = v;
    }
    ChatRenderOptions opt;
    opt.now = jan15();
    ChatTemplate t(row["template"].get<std::string>());
    if (row["expected"].is_string()) {
      EXPECT_EQ(apply_chat_template(t, tokens, input, opt), row["expected"].get<std::string>());
      ++rendered;
    } else {
      try {
        apply_chat_template(t, tokens, input, opt);
        ADD_FAILURE() << "expected the template to raise " << row["error"];
      } catch (const ChatTemplateError& e) {
        EXPECT_TRUE(e.raised());
        EXPECT_EQ(e.message(), row["error"].get<std::string>());
      }
      ++raised;
    }
    ++n;
  }
  EXPECT_EQ(n, 67u);
  std::printf("golden chat cases: %zu rendered identical, %zu raised the recorded error\n", rendered, raised);
}

TEST(ChatTemplate, JinjaSemanticsSpotChecks) {
  // Loop bodies get their own scope per iteration; namespace() carries state out.
  EXPECT_EQ(render("{% set c = 0 %}{% for i in range(3) %}{% set c = c + 1 %}{{ c }}{% endfor %}{{ c }}"), "1110");
  EXPECT_EQ(render("{% set ns = namespace(c=0) %}{% for i in range(3) %}{% set ns.c = ns.c + 1 %}{% endfor %}{{ ns.c }}"), "3");
  // trim_blocks + lstrip_blocks.
  EXPECT_EQ(render("a\n  {% if true %}\n  b\n  {% endif %}\nc"), "a\n  b\nc");
  // Python reprs and Jinja2's undefined.
  EXPECT_EQ(render("{{ [1, 'a', none, true] }}|{{ x }}|{{ x is defined }}"), "[1, 'a', None, True]||False");
  EXPECT_EQ(render("{{ 'xxhixx'.strip('x') }}{{ 'ab' * 2 }}{{ [1,2,3][::-1] }}"), "hiabab[3, 2, 1]");
  EXPECT_EQ(render("{{ {'é': [1.5, none]} | tojson }}"), "{\"é\": [1.5, null]}");
  EXPECT_EQ(render("{{ strftime_now('%d %b %Y') }}"), "15 Jan 2026");
}

TEST(ChatTemplate, ErrorsNameLineAndColumn) {
  EXPECT_NE(render_error("line one\n{% if x %}\nnever closed").find("line 3"), std::string::npos);
  EXPECT_NE(render_error("{% if x %}\nnever closed").find("'endif'"), std::string::npos);
  EXPECT_NE(render_error("ok\n  {{ 1 + }}").find("line 2, column 10"), std::string::npos);
  EXPECT_NE(render_error("{% frobnicate %}").find("unknown tag 'frobnicate'"), std::string::npos);
  EXPECT_NE(render_error("{{ x | nosuchfilter }}").find("no filter named 'nosuchfilter'"), std::string::npos);
  EXPECT_NE(render_error("\n\n{{ missing.attr }}").find("line 3"), std::string::npos);
  EXPECT_NE(render_error("{{ missing.attr }}").find("'missing' is undefined"), std::string::npos);
  EXPECT_NE(render_error("{{ 'a' + 1 }}").find("can only concatenate str"), std::string::npos);
  EXPECT_NE(render_error("{% set l = [] %}{{ l.append(1) }}").find("unsafe"), std::string::npos);
  EXPECT_NE(render_error("{% include 'x.j2' %}").find("no access to other files"), std::string::npos);
}

TEST(ChatTemplate, RaiseExceptionCarriesTheMessage) {
  try {
    render("{{ raise_exception('Roles must alternate') }}");
    FAIL();
  } catch (const ChatTemplateError& e) {
    EXPECT_TRUE(e.raised());
    EXPECT_EQ(e.message(), "Roles must alternate");
    EXPECT_NE(std::string(e.what()).find("Roles must alternate"), std::string::npos);
  }
}

TEST(ChatTemplate, HostileTemplatesStayBounded) {
  // Steps: nested loops that would run for hours.
  EXPECT_NE(render_error("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}").find("steps"),
            std::string::npos);
  // Output: doubling strings.
  EXPECT_NE(render_error("{% set ns = namespace(s='xxxxxxxxxxxxxxxx') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}")
                .find("exceeds"),
            std::string::npos);
  // Recursion through macros.
  EXPECT_NE(render_error("{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}").find("deeper"), std::string::npos);
  // Parser nesting.
  EXPECT_NE(render_error("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}").find("nests deeper"),
            std::string::npos);
  EXPECT_NE(render_error("{{ range(1000000) }}").find("MAX_RANGE"), std::string::npos);
  EXPECT_NE(render_error("{{ 'x' * 1000000000 }}").find("too large"), std::string::npos);
}

class ChatTemplateSource : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("cloze_chat_src_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }
  std::filesystem::path dir_;
};

TEST_F(ChatTemplateSource, StringListJinjaFileAndFlag) {
  write("tokenizer_config.json",
        R"({"bos_token": {"content": "<s>", "__type": "AddedToken"}, "eos_token": "</s>", "chat_template": "S{{ bos_token }}"})");
  auto t = find_chat_template(dir_);
  EXPECT_EQ(t.source, "S{{ bos_token }}");
  EXPECT_EQ(t.bos_token.value_or("?"), "<s>");
  EXPECT_EQ(t.eos_token.value_or("?"), "</s>");
  write("tokenizer_config.json",
        R"({"chat_template": [{"name": "default", "template": "D"}, {"name": "tool_use", "template": "T"}]})");
  EXPECT_EQ(find_chat_template(dir_).source, "D");
  EXPECT_EQ(find_chat_template(dir_, std::nullopt, "tool_use").source, "T");
  EXPECT_NE(test::error_of([&] { find_chat_template(dir_, std::nullopt, "rag"); }).find("tool_use"), std::string::npos);
  write("tokenizer_config.json", R"({"eos_token": "</s>"})");
  write("chat_template.jinja", "J");
  EXPECT_EQ(find_chat_template(dir_).source, "J");
  write("mine.jinja", "M");
  EXPECT_EQ(find_chat_template(dir_, dir_ / "mine.jinja").source, "M");
  std::filesystem::remove(dir_ / "chat_template.jinja");
  std::string err = test::error_of([&] { find_chat_template(dir_); });
  EXPECT_NE(err.find("tokenizer_config.json"), std::string::npos) << err;
  EXPECT_NE(err.find("chat_template.jinja"), std::string::npos) << err;
  // The library names the option; the CLI words it as --chat-template.
  try {
    find_chat_template(dir_);
  } catch (const Error& e) {
    EXPECT_EQ(e.subject().kind, Subject::Kind::Option);
    EXPECT_EQ(e.subject().name, "chat_template");
  }
}

}  // namespace
}  // namespace cloze
