// `cloze serve` as users run it: a real process on a free port. Its answers
// must equal `cloze classify`'s lines for the same texts and flags, and
// SIGTERM must end it cleanly (exit 0) after answering what was in flight.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_models.h"
#include "test_util.h"

namespace {

using json = nlohmann::ordered_json;

// A `cloze serve` child process; its stderr is read until it says "ready".
class ServeProcess {
 public:
  explicit ServeProcess(std::vector<std::string> args) {
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], STDERR_FILENO);
      close(fds[0]);
      close(fds[1]);
      std::vector<char*> argv = {const_cast<char*>(CLOZE_BIN), const_cast<char*>("serve")};
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(CLOZE_BIN, argv.data());
      _exit(127);
    }
    close(fds[1]);
    err_ = fdopen(fds[0], "r");
  }
  ~ServeProcess() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (err_) fclose(err_);
  }
  // Reads stderr until "ready"; returns the port, 0 if the process ended.
  int wait_ready() {
    const std::string listening = "listening on http://127.0.0.1:";
    char line[4096];
    int port = 0;
    while (fgets(line, sizeof line, err_)) {
      log_ += line;
      if (auto at = std::string(line).find(listening); at != std::string::npos)
        port = std::atoi(line + at + listening.size());
      if (std::string(line).find("cloze: ready") != std::string::npos) return port;
    }
    return 0;
  }
  // Sends `sig` and returns the exit status (-1: killed by a signal).
  int stop(int sig) {
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    reaped_ = true;
    char line[4096];
    while (fgets(line, sizeof line, err_)) log_ += line;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  const std::string& log() const { return log_; }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  FILE* err_ = nullptr;
  std::string log_;
};

std::string run_cli(const std::string& args) {
  return cloze::test::run_command(std::string(CLOZE_BIN) + " " + args + " 2>/dev/null").out;
}

TEST(ServeCli, AnswersLikeClassifyAndStopsOnSigterm) {
  const std::string model = cloze::test::full_vocab_qwen2().string();
  ServeProcess srv({"--model", model, "--port", "0", "--threads", "1", "--labels", "good,bad", "--template",
                    "Review: {text} Verdict:"});
  const int port = srv.wait_ready();
  ASSERT_GT(port, 0) << srv.log();

  const std::vector<std::string> texts = {"a warm, funny film", "tedious", ""};
  // The CLI, same flags: one JSON object per line.
  std::string cli = run_cli("classify --model " + model +
                            " --threads 1 --labels good,bad --template 'Review: {text} Verdict:' "
                            "'a warm, funny film' tedious ''");
  json want = json::array();
  for (size_t at = 0, nl; (nl = cli.find('\n', at)) != std::string::npos; at = nl + 1)
    want.push_back(json::parse(cli.substr(at, nl - at)));
  ASSERT_EQ(want.size(), texts.size()) << cli;

  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(60, 0);
  auto r = c.Post("/v1/classify", json{{"texts", texts}}.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body)["results"], want);

  // SIGTERM while a request is in flight: it is answered, then exit 0.
  std::thread inflight([&] {
    httplib::Client c2("127.0.0.1", port);
    c2.set_read_timeout(60, 0);
    std::string prompt;
    for (int i = 0; i < 60; ++i) prompt += "word" + std::to_string(i) + " ";
    auto res = c2.Post("/v1/completions", json{{"prompt", prompt}, {"max_tokens", 0}, {"echo", true}, {"logprobs", 1}}.dump(),
                       "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(srv.stop(SIGTERM), 0) << srv.log();
  inflight.join();
  EXPECT_NE(srv.log().find("SIGTERM"), std::string::npos) << srv.log();
}

TEST(ServeCli, BadFlagsFailWithOneLine) {
  // Exit status and the one stderr line that names the problem.
  auto run = [](const std::string& args, std::string& err) {
    FILE* p = popen((std::string(CLOZE_BIN) + " serve " + args + " 2>&1 >/dev/null").c_str(), "r");
    char buf[4096];
    size_t n;
    err.clear();
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) err.append(buf, n);
    return pclose(p);
  };
  std::string err;
  EXPECT_NE(run("--model /nonexistent --port 70000", err), 0);
  EXPECT_NE(err.find("--port"), std::string::npos) << err;
  EXPECT_NE(run("--model /nonexistent --port 0", err), 0);
  EXPECT_NE(err.find("/nonexistent"), std::string::npos) << err;
}

}  // namespace
