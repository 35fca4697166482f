// Nothing lost (issue 18), end to end on the tiny full-vocabulary Qwen2:
// write errors stop the job naming the output, a closed pipe ends it quietly
// with 141, `--output` + `--resume` after SIGKILL at random moments gives the
// very bytes of an uninterrupted run, a different job refuses to resume, and
// SIGINT / SIGTERM finish the batch and exit 130 / 143.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_models.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class OutputResume : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_ = cloze::test::full_vocab_qwen2().string();
    dir_ = testing::TempDir() + "/cloze_resume_" + std::to_string(::getpid());
    fs::create_directories(dir_);
    // 200 reviews of 3-40 words; ids; some texts quoted across lines, so a
    // CSV row is not a line.
    std::mt19937 rng(18);
    const char* words[] = {"good", "bad", "movie", "film", "great", "awful", "plot", "actor", "boring", "loved"};
    std::ofstream csv(dir_ + "/in.csv");
    csv << "id,text\n";
    for (int i = 0; i < 200; ++i) {
      std::string t;
      for (int w = 0, n = 3 + int(rng() % 38); w < n; ++w) t += std::string(w ? (rng() % 17 ? " " : "\n") : "") + words[rng() % 10];
      csv << "r" << i << ",\"" << t << "\"\n";
    }
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static std::string path(const std::string& name) { return dir_ + "/" + name; }
  static std::vector<std::string> classify_args(const std::string& out, bool resume) {
    std::vector<std::string> a = {CLOZE_BIN, "classify", "--model", model_, "--threads", "2", "--batch-tokens", "512",
                                  "--input", path("in.csv"), "--id-column", "id", "--output", out};
    if (resume) a.push_back("--resume");
    return a;
  }

  // Starts `args` with stdout/stderr to files; returns the pid.
  static pid_t spawn(const std::vector<std::string>& args, const std::string& out, const std::string& err) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<char*> argv;
    for (const auto& s : args) argv.push_back(const_cast<char*>(s.c_str()));
    argv.push_back(nullptr);
    pid_t pid = -1;
    EXPECT_EQ(posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    return pid;
  }
  static int wait_status(pid_t pid) {
    int st = 0;
    waitpid(pid, &st, 0);
    return st;
  }
  static int run(const std::vector<std::string>& args, std::string* err = nullptr) {
    const int st = wait_status(spawn(args, path("stdout"), path("stderr")));
    if (err) *err = slurp(path("stderr"));
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  // The byte count a job file records as whole.
  static uint64_t nlohmann_bytes(const std::string& job) { return nlohmann::json::parse(slurp(job))["bytes"].get<uint64_t>(); }
  static uint64_t size_of(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 ? uint64_t(st.st_size) : 0;
  }
  // Signals `pid` once `file` holds at least `bytes` (or the process ends).
  static void signal_at(pid_t pid, const std::string& file, uint64_t bytes, int sig) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (size_of(file) < bytes && std::chrono::steady_clock::now() < give_up) {
      int st;
      if (waitpid(pid, &st, WNOHANG) == pid) {
        ADD_FAILURE() << "the job ended before it wrote " << bytes << " bytes";
        return;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    kill(pid, sig);
  }

  // The uninterrupted run every other run is compared with.
  static const std::string& reference() {
    static const std::string ref = [] {
      std::string err;
      EXPECT_EQ(run(classify_args(path("ref.csv"), false), &err), 0) << err;
      return slurp(path("ref.csv"));
    }();
    return ref;
  }

  static inline std::string model_, dir_;
};

TEST_F(OutputResume, FullDeviceIsAnErrorNamingTheOutput) {
  std::string err;
  std::vector<std::string> a = {"/bin/sh", "-c",
                                std::string(CLOZE_BIN) + " classify --model " + model_ + " x >/dev/full"};
  EXPECT_EQ(run(a, &err), 1);
  EXPECT_NE(err.find("cannot write to stdout: No space left on device"), std::string::npos) << err;
  a[2] = std::string(CLOZE_BIN) + " tokenize --model " + model_ + " hello >/dev/full";
  EXPECT_EQ(run(a, &err), 1);
  EXPECT_NE(err.find("cannot write to stdout: No space left on device"), std::string::npos) << err;
  std::ofstream(path("gold.tsv")) << "text\tlabel\nfine\tpositive\n";
  a = {CLOZE_BIN, "eval", "--model", model_, "--input", path("gold.tsv"), "--predictions", "/dev/full"};
  EXPECT_EQ(run(a, &err), 1);
  EXPECT_NE(err.find("cannot write to '/dev/full': No space left on device"), std::string::npos) << err;
}

TEST_F(OutputResume, ClosedPipeEndsQuietlyWith141) {
  // Whether SIGPIPE is left at its default (killed by it) or ignored by the
  // parent (EPIPE, handled), the status is 141 and stderr stays empty.
  for (const char* trap : {"", "trap '' PIPE; "}) {
    const std::string cmd = std::string(trap) + std::string(CLOZE_BIN) + " classify --model " + model_ +
                            " --input " + path("in.csv") + " 2>" + path("pipe_err") + " | head -1 >/dev/null; echo ${PIPESTATUS[0]}";
    std::ofstream(path("pipe.sh")) << cmd << "\n";
    FILE* p = popen(("bash " + path("pipe.sh")).c_str(), "r");
    ASSERT_TRUE(p);
    char buf[64] = {};
    ASSERT_TRUE(fgets(buf, sizeof buf, p));
    pclose(p);
    EXPECT_EQ(std::string(buf), "141\n") << trap;
    EXPECT_EQ(slurp(path("pipe_err")), "") << trap;
  }
}

TEST_F(OutputResume, KillNineAtRandomPointsThenResumeIsByteIdentical) {
  const std::string& ref = reference();
  ASSERT_GT(ref.size(), 10000u);
  std::mt19937 rng(1800);
  // Six kills: one before any row (during the model load), five at random
  // byte counts of the output, so a kill lands mid-batch as often as not.
  for (int k = 0; k < 6; ++k) {
    const std::string out = path("killed" + std::to_string(k) + ".csv");
    const uint64_t at = k == 0 ? 0 : 1 + rng() % (ref.size() - 1);
    const pid_t pid = spawn(classify_args(out, false), path("stdout"), path("stderr"));
    if (at == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    else signal_at(pid, out, at, SIGKILL);
    if (at == 0) kill(pid, SIGKILL);
    wait_status(pid);
    std::string err;
    ASSERT_EQ(run(classify_args(out, true), &err), 0) << "kill at " << at << ": " << err;
    EXPECT_TRUE(slurp(out) == ref) << "kill at byte " << at << ": resumed file differs from the uninterrupted run";
    if (k > 0) continue;
    // Resuming a finished job changes nothing.
    ASSERT_EQ(run(classify_args(out, true), &err), 0) << err;
    EXPECT_TRUE(slurp(out) == ref);
  }
}

TEST_F(OutputResume, ADifferentJobRefusesToResume) {
  reference();
  fs::copy_file(path("ref.csv"), path("other.csv"), fs::copy_options::overwrite_existing);
  fs::copy_file(path("ref.csv.cloze-job"), path("other.csv.cloze-job"), fs::copy_options::overwrite_existing);
  auto a = classify_args(path("other.csv"), true);
  a.insert(a.end(), {"--labels", "good,bad"});
  std::string err;
  EXPECT_EQ(run(a, &err), 1);
  EXPECT_NE(err.find("different job (labels was [\"positive\",\"negative\"], now [\"good\",\"bad\"])"), std::string::npos) << err;
  // An edited input is another job too.
  std::ofstream(path("in2.csv")) << slurp(path("in.csv")) << "r600,one more\n";
  a = classify_args(path("other.csv"), true);
  a[9] = path("in2.csv");
  EXPECT_EQ(run(a, &err), 1);
  EXPECT_NE(err.find("input_sha256 was"), std::string::npos) << err;
  // Without --resume an existing output is never overwritten.
  EXPECT_EQ(run(classify_args(path("other.csv"), false), &err), 1);
  EXPECT_NE(err.find("already exists; add --resume"), std::string::npos) << err;
  EXPECT_TRUE(slurp(path("other.csv")) == reference());
}

TEST_F(OutputResume, SigtermAndSigintFinishTheBatchThenResume) {
  const std::string& ref = reference();
  for (int sig : {SIGTERM, SIGINT}) {
    const std::string out = path(std::string("sig") + std::to_string(sig) + ".csv");
    const pid_t pid = spawn(classify_args(out, false), path("stdout"), path("sig_err"));
    signal_at(pid, out, 1, sig);
    const int st = wait_status(pid);
    ASSERT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 128 + sig);
    const std::string err = slurp(path("sig_err"));
    EXPECT_NE(err.find(sig == SIGTERM ? "SIGTERM: stopped after the batch in flight; " : "SIGINT: stopped"), std::string::npos) << err;
    EXPECT_NE(err.find("rows written to " + out + "; resume with: "), std::string::npos) << err;
    EXPECT_NE(err.find(" --resume\n"), std::string::npos) << err;
    // The batch in flight was written and recorded: nothing to cut back.
    EXPECT_EQ(size_of(out), nlohmann_bytes(out + ".cloze-job"));
    std::string rerr;
    ASSERT_EQ(run(classify_args(out, true), &rerr), 0) << rerr;
    EXPECT_TRUE(slurp(out) == ref);
  }
}

TEST_F(OutputResume, EvalResumesWithMetricsOverAllRows) {
  std::ofstream tsv(path("gold.jsonl"));
  for (int i = 0; i < 300; ++i)
    tsv << "{\"text\":\"review " << i << (i % 3 ? " great" : " awful") << "\",\"label\":\"" << (i % 2 ? "positive" : "negative") << "\"}\n";
  tsv.close();
  auto eval = [&](const std::string& out, bool resume) {
    std::vector<std::string> a = {CLOZE_BIN, "eval", "--model", model_, "--threads", "2", "--input", path("gold.jsonl"),
                                  "--json", "--output", out, "--report-json", out + ".report.json"};
    if (resume) a.push_back("--resume");
    return a;
  };
  std::string err;
  ASSERT_EQ(run(eval(path("eval_ref.jsonl"), false), &err), 0) << err;
  const std::string full_report = slurp(path("stdout"));
  const pid_t pid = spawn(eval(path("eval_cut.jsonl"), false), path("stdout"), path("stderr"));
  signal_at(pid, path("eval_cut.jsonl"), size_of(path("eval_ref.jsonl")) / 2, SIGKILL);
  wait_status(pid);
  ASSERT_EQ(run(eval(path("eval_cut.jsonl"), true), &err), 0) << err;
  EXPECT_TRUE(slurp(path("eval_cut.jsonl")) == slurp(path("eval_ref.jsonl")));
  auto field = [](const std::string& report, const std::string& key) {
    const size_t at = report.find("\"" + key + "\":");
    return at == std::string::npos ? std::string("(missing)") : report.substr(at, report.find(',', at) - at);
  };
  const std::string resumed_report = slurp(path("stdout"));
  for (const char* key : {"n", "scored", "accuracy", "macro_f1", "mean_label_mass"})
    EXPECT_EQ(field(resumed_report, key), field(full_report, key)) << key;
  // The report too: intervals, reliability, histogram and the confident
  // mistakes (with their input lines and texts) over all rows, as if never cut.
  auto report = [&](const std::string& out) {
    auto j = nlohmann::json::parse(slurp(out + ".report.json"));
    for (const char* k : {"seconds", "load_seconds", "texts_per_s", "tokens_per_s"}) {
      j.erase(k);
      j["facts"].erase(k);
    }
    j["facts"].erase("generated");
    return j;
  };
  const auto full = report(path("eval_ref.jsonl")), resumed = report(path("eval_cut.jsonl"));
  EXPECT_FALSE(full["confident_mistakes"].empty());
  EXPECT_EQ(resumed.dump(), full.dump());
}

}  // namespace
