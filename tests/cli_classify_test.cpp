// `cloze classify`, `cloze eval` and `cloze logits` end to end, on a tiny
// random Qwen2 with the full vocabulary and the real tokenizer: output shape,
// agreement between commands, and every bad input giving a clear message.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include "test_models.h"

namespace {

using nlohmann::json;

struct Run {
  int status;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `cloze <args>` through the shell with stdin from /dev/null unless the
// args redirect it.
// ctest runs tests as parallel processes: give each its own scratch names.
std::string scratch(const std::string& name) {
  return testing::TempDir() + "/cloze_cli_" + std::to_string(::getpid()) + "_" + name;
}

// `pre` is shell run first (e.g. to set a variable the args use).
Run cloze(const std::string& args, const std::string& pre = "") {
  const std::string out = scratch("out"), err = scratch("err");
  std::string cmd = pre + std::string(CLOZE_BIN) + " " + args + " >" + out + " 2>" + err;
  if (args.find(" < ") == std::string::npos) cmd += " </dev/null";
  int rc = std::system(cmd.c_str());
  return {rc, slurp(out), slurp(err)};
}

std::string write_file(const std::string& name, const std::string& content) {
  std::string path = scratch(name);
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

std::vector<json> lines_of(const std::string& s) {
  std::vector<json> v;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) v.push_back(json::parse(line));
  return v;
}

class Cli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { model_ = cloze::test::full_vocab_qwen2().string(); }
  static std::string m() { return "--model " + model_ + " --threads 2"; }
  static inline std::string model_;
};

json seed() {
  std::ifstream in(std::string(CLOZE_FIXTURES) + "/data/seed_cases.json");
  return json::parse(in);
}

std::string fill(const std::string& templ, const std::string& text) {
  std::string s = templ;
  s.replace(s.find("{text}"), 6, text);
  return s;
}

TEST_F(Cli, SeedReviewsAgreeWithLogits) {
  json cases = seed();
  for (const auto& review : cases["reviews"]) {
    std::string text = review.get<std::string>();
    json row = {{"text", text}};
    auto r = cloze("classify " + m() + " --input " + write_file("review.jsonl", row.dump() + "\n"));
    ASSERT_EQ(r.status, 0) << r.err;
    auto res = lines_of(r.out);
    ASSERT_EQ(res.size(), 1u);
    std::string pf = write_file("prompt.txt", fill(cases["template"], text));
    // $(cat) alone would drop trailing newlines; the x keeps them.
    auto l = cloze("logits " + m() + " --text \"$t\"", "t=\"$(cat " + pf + "; printf x)\"; t=\"${t%x}\"; ");
    ASSERT_EQ(l.status, 0) << l.err;
    json lj = json::parse(l.out);
    float pos = lj["logits"][0][6785].get<float>(), neg = lj["logits"][0][8225].get<float>();
    EXPECT_EQ(res[0]["logits"]["positive"].get<float>(), pos);
    EXPECT_EQ(res[0]["logits"]["negative"].get<float>(), neg);
    EXPECT_EQ(res[0]["label"], pos > neg ? "positive" : "negative");
    EXPECT_EQ(res[0]["text"], text);
  }
}

TEST_F(Cli, FilesInOrderWithIdsAndFormats) {
  std::string csv = write_file("in.csv", "id,text\n7,\"Great, really \"\"great\"\".\"\n8,Awful.\n9,\"multi\nline\"\n");
  auto r = cloze("classify " + m() + " --input " + csv + " --id-column id");
  ASSERT_EQ(r.status, 0) << r.err;
  auto rows = lines_of(r.out);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0]["id"], "7");
  EXPECT_EQ(rows[0]["text"], "Great, really \"great\".");
  EXPECT_EQ(rows[2]["text"], "multi\nline");
  EXPECT_TRUE(rows[1].contains("label_mass"));
  // Same texts through stdin lines give the same scores.
  auto s = cloze("classify " + m() + " < " + write_file("in.txt", "Awful.\n"));
  ASSERT_EQ(s.status, 0) << s.err;
  EXPECT_EQ(lines_of(s.out)[0]["logits"], rows[1]["logits"]);
  auto c = cloze("classify " + m() + " --format csv Awful.");
  ASSERT_EQ(c.status, 0) << c.err;
  EXPECT_EQ(c.out.substr(0, c.out.find('\n')), "text,label,probs.positive,probs.negative,logits.positive,logits.negative,label_mass,error");
  // An error row first: the columns were fixed before it, so the rows after it fit.
  auto e = cloze("classify " + m() + " --format csv '' Awful.");
  ASSERT_EQ(e.status, 0) << e.err;
  EXPECT_EQ(e.out.substr(e.out.find('\n') + 1, e.out.find('\n', e.out.find('\n') + 1) - e.out.find('\n') - 1),
            ",,,,,,,empty text");
  auto t = cloze("classify " + m() + " --format table Awful.");
  ASSERT_EQ(t.status, 0) << t.err;
  EXPECT_NE(t.out.find("Awful."), std::string::npos) << t.out;
}

TEST_F(Cli, BadRowsKeepTheirPlace) {
  // Ragged CSV row, invalid UTF-8 and an empty text: every row gets a result.
  std::string csv = write_file("bad.csv", "text,label\nfine,positive\ntoo,many,fields\n\"bad \xff byte\",negative\n\"\",x\n");
  auto r = cloze("classify " + m() + " --input " + csv);
  ASSERT_EQ(r.status, 0) << r.err;
  auto rows = lines_of(r.out);
  ASSERT_EQ(rows.size(), 4u) << r.out;
  EXPECT_FALSE(rows[0].contains("error"));
  EXPECT_NE(rows[1]["error"].get<std::string>().find("expected 2 fields (as in the header), found 3"), std::string::npos) << rows[1];
  EXPECT_NE(rows[2]["error"].get<std::string>().find("UTF-8"), std::string::npos) << rows[2];
  EXPECT_NE(rows[3]["error"].get<std::string>().find("empty"), std::string::npos) << rows[3];
  EXPECT_TRUE(rows[1]["label"].is_null());
  auto f = cloze("classify " + m() + " --on-error fail --input " + csv);
  EXPECT_NE(f.status, 0);
  EXPECT_NE(f.err.find("input row 2 (line 3)"), std::string::npos) << f.err;
}

TEST_F(Cli, FatalInputErrors) {
  auto r = cloze("classify " + m() + " --input " + write_file("nocol.csv", "sentence,label\nhi,positive\n"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("text"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("sentence"), std::string::npos) << r.err;  // lists the columns found
  r = cloze("classify " + m() + " --input " + write_file("unterminated.csv", "text\n\"open quote\nnever closed\n"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("unterminated.csv:2: a quoted field starts here"), std::string::npos) << r.err;
  r = cloze("classify " + m() + " --input " + scratch("does-not-exist.jsonl"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("does-not-exist.jsonl"), std::string::npos) << r.err;
  r = cloze("eval " + m() + " --input " + write_file("empty.tsv", "text\tlabel\n"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("no rows"), std::string::npos) << r.err;
  r = cloze("classify " + m() + " --input " + write_file("empty.txt", ""));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("no rows"), std::string::npos) << r.err;
}

TEST_F(Cli, BadLabelsTemplatesAndModels) {
  auto r = cloze("classify " + m() + " --template 'Review: Answer:' hi");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("no {text} placeholder"), std::string::npos) << r.err;
  r = cloze("classify " + m() + " --labels good,good hi");
  EXPECT_NE(r.err.find("'good' is given twice"), std::string::npos) << r.err;
  r = cloze("classify " + m() + " --labels good,,bad hi");
  EXPECT_NE(r.err.find("empty label"), std::string::npos) << r.err;
  // The library says the error is about the labels option; the CLI names the flag.
  EXPECT_NE(r.err.find("(--labels)"), std::string::npos) << r.err;
  r = cloze("classify " + m() + " --template 'Review: Answer:' hi");
  EXPECT_NE(r.err.find("(--template)"), std::string::npos) << r.err;
  r = cloze("classify " + m() + " --calibrate maybe hi");
  EXPECT_NE(r.err.find("--calibrate: 'maybe' is not one of none, contextual, pmi"), std::string::npos) << r.err;
  // A model directory without weights / without a tokenizer.
  std::filesystem::path d = scratch("partial_model");
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  std::filesystem::copy(model_ + "/config.json", d / "config.json");
  r = cloze("classify --model " + d.string() + " hi");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("no model.safetensors"), std::string::npos) << r.err;
  std::filesystem::copy(model_ + "/model.safetensors", d / "model.safetensors");
  r = cloze("classify --model " + d.string() + " hi");
  EXPECT_NE(r.err.find("no tokenizer.json"), std::string::npos) << r.err;
  r = cloze("classify --model ./nowhere hi");
  EXPECT_NE(r.err.find("'./nowhere' not found"), std::string::npos) << r.err;
}

TEST_F(Cli, EvalReportsMetrics) {
  std::string tsv = write_file("eval.tsv", "text\tlabel\nGreat fun.\tpos\nDreadful.\tneg\nFine.\tpos\n");
  auto r = cloze("eval " + m() + " --input " + tsv + " --json");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("gold label 'pos' is not among the labels (positive,negative)"), std::string::npos) << r.err;
  r = cloze("eval " + m() + " --input " + tsv + " --label-map pos=positive,neg=negative --json");
  ASSERT_EQ(r.status, 0) << r.err;
  json j = json::parse(r.out);
  for (const char* k : {"accuracy", "macro_f1", "n", "seconds", "texts_per_s"}) EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["n"], 3);
  // Accuracy agrees with classify's decisions on the same texts.
  auto c = cloze("classify " + m() + " 'Great fun.' 'Dreadful.' 'Fine.'");
  auto rows = lines_of(c.out);
  int correct = (rows[0]["label"] == "positive") + (rows[1]["label"] == "negative") + (rows[2]["label"] == "positive");
  EXPECT_DOUBLE_EQ(j["accuracy"].get<double>(), correct / 3.0);
  auto h = cloze("eval " + m() + " --input " + tsv + " --label-map pos=positive,neg=negative");
  ASSERT_EQ(h.status, 0) << h.err;
  EXPECT_NE(h.out.find("accuracy"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("macro-F1"), std::string::npos) << h.out;
}

TEST_F(Cli, MultiTokenLabelsMatchLogitsAll) {
  auto r = cloze("classify " + m() + " --labels 'thumbs up,thumbs down' 'Loved it.'");
  ASSERT_EQ(r.status, 0) << r.err;
  json res = lines_of(r.out)[0];
  auto tok = [&](const std::string& text) {
    auto t = cloze("tokenize --model " + model_ + " --no-special '" + text + "'");
    return json::parse(t.out)["ids"].get<std::vector<int>>();
  };
  std::string prompt = fill(std::string(seed()["template"]), "Loved it.");
  std::string pf = write_file("mt_prompt.txt", prompt);
  auto tp = cloze("tokenize --model " + model_ + " \"$(cat " + pf + ")\"");
  auto prompt_ids = json::parse(tp.out)["ids"].get<std::vector<int>>();
  for (const char* label : {"thumbs up", "thumbs down"}) {
    auto lab = tok(std::string(" ") + label);
    std::vector<int> ids = prompt_ids;
    ids.insert(ids.end(), lab.begin(), lab.end());
    std::string list;
    for (int id : ids) {
      if (!list.empty()) list += ',';
      list += std::to_string(id);
    }
    auto l = cloze("logits " + m() + " --all --ids " + list);
    ASSERT_EQ(l.status, 0) << l.err;
    json lj = json::parse(l.out);
    double want = 0;
    for (size_t p = 0; p < lab.size(); ++p) {
      const auto& row = lj["logits"][prompt_ids.size() - 1 + p];
      double mx = -1e30, z = 0;
      for (const auto& v : row) mx = std::max(mx, v.get<double>());
      for (const auto& v : row) z += std::exp(v.get<double>() - mx);
      want += row[lab[p]].get<double>() - (mx + std::log(z));
    }
    EXPECT_NEAR(res["logits"][label].get<double>(), want, 1e-4) << label;
  }
}

}  // namespace

namespace {

// Results must come out while the input is still open: write one line, read
// its result, only then write the next.
TEST_F(Cli, StreamsWhileInputIsOpen) {
  int in_pipe[2], out_pipe[2];
  ASSERT_EQ(pipe(in_pipe), 0);
  ASSERT_EQ(pipe(out_pipe), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    close(in_pipe[1]);
    close(out_pipe[0]);
    execl(CLOZE_BIN, CLOZE_BIN, "classify", "--model", model_.c_str(), "--threads", "2", (char*)nullptr);
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  FILE* out = fdopen(out_pipe[0], "r");
  auto line_for = [&](const std::string& text) {
    std::string l = text + "\n";
    EXPECT_EQ(write(in_pipe[1], l.data(), l.size()), ssize_t(l.size()));
    char buf[65536];
    return fgets(buf, sizeof buf, out) ? json::parse(buf) : json();
  };
  EXPECT_EQ(line_for("First review, great.")["text"], "First review, great.");
  EXPECT_EQ(line_for("Second one, awful.")["text"], "Second one, awful.");
  close(in_pipe[1]);
  int status = 0;
  waitpid(pid, &status, 0);
  fclose(out);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST_F(Cli, LabelsThatTokenizeIdentically) {
  // NFC makes a precomposed and a decomposed e-acute the same tokens.
  auto r = cloze("classify " + m() + " --labels $(printf 'caf\\303\\251,cafe\\314\\201') hi");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("tokenize identically"), std::string::npos) << r.err;
}

}  // namespace
