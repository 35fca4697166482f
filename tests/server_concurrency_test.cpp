// Many clients at once: every request answered, none lost, and each answer
// identical to scoring its texts alone (the worker merges requests into
// batches; the classifier's batch invariance must make that invisible).
// Then a graceful stop with requests in flight.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <random>

#include "cloze/result_row.h"
#include "server_fixture.h"

namespace {

using cloze::test::LiveServer;
using cloze::test::TinyModel;
using json = nlohmann::ordered_json;

TEST(ServerConcurrency, ManyClientsGetSequentialAnswers) {
  constexpr int kClients = 32, kRequests = 20;
  const auto texts = cloze::test::sst2_texts(64);
  // Two classifier settings, so batches must also keep them apart.
  const std::vector<std::vector<std::string>> label_sets = {{"positive", "negative"}, {"good", "bad"}};

  // Expected: each text scored on its own, sequentially, on a separate copy.
  TinyModel ref = TinyModel::load();
  std::map<std::pair<size_t, size_t>, json> want;  // (label set, text) -> result object
  for (size_t s = 0; s < label_sets.size(); ++s) {
    cloze::ClassifierOptions o;
    o.labels = label_sets[s];
    cloze::Classifier clf(*ref.model, *ref.tok, o);
    for (size_t t = 0; t < texts.size(); ++t) {
      cloze::Record rec;
      rec.text = texts[t];
      want[{s, t}] = json::parse(cloze::result_row(rec, clf.classify({&texts[t], 1})[0], clf, false).dump());
    }
  }

  TinyModel served = TinyModel::load();
  LiveServer live(cloze::test::small_limits(), &served);
  std::atomic<int> ok{0}, failed{0}, mismatched{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      std::mt19937 rng(c);
      auto client = live.client();
      for (int r = 0; r < kRequests; ++r) {
        const size_t set = rng() % label_sets.size(), n = 1 + rng() % 3;
        std::vector<size_t> picks;
        json body = {{"texts", json::array()}};
        for (size_t i = 0; i < n; ++i) {
          picks.push_back(rng() % texts.size());
          body["texts"].push_back(texts[picks.back()]);
        }
        if (set == 1) body["labels"] = label_sets[1];
        auto res = client.Post("/v1/classify", body.dump(), "application/json");
        if (!res || res->status != 200) {
          ++failed;
          std::fprintf(stderr, "client %d request %d: %s\n", c, r,
                       res ? ("HTTP " + std::to_string(res->status) + " " + res->body).c_str()
                           : httplib::to_string(res.error()).c_str());
          continue;
        }
        json got = json::parse(res->body)["results"];
        bool same = got.size() == n;
        for (size_t i = 0; same && i < n; ++i) same = got[i] == want[{set, picks[i]}];
        ++(same ? ok : mismatched);
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(mismatched, 0);
  EXPECT_EQ(ok, kClients * kRequests);

  // The worker did merge requests: fewer batches than requests.
  auto m = live.client().Get("/metrics");
  ASSERT_TRUE(m);
  auto at = m->body.find("\ncloze_batches_total ");
  ASSERT_NE(at, std::string::npos);
  const unsigned long batches = std::stoul(m->body.substr(at + 21));
  std::printf("%d requests in %lu model batches\n", kClients * kRequests, batches);
  EXPECT_LE(batches, unsigned(kClients * kRequests));
}

TEST(ServerConcurrency, StopFinishesRequestsInFlight) {
  TinyModel served = TinyModel::load();
  LiveServer live(cloze::test::small_limits(), &served);
  // Full-vocabulary scoring of ~100-token prompts keeps the worker busy
  // long enough that the stop lands while these wait or run.
  std::string prompt;
  for (int i = 0; prompt.size() < 300; ++i) prompt += "word" + std::to_string(i) + " ";
  constexpr int kInFlight = 4;
  std::atomic<int> started{0}, answered{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kInFlight; ++c)
    clients.emplace_back([&] {
      auto client = live.client();
      json body = {{"prompt", prompt}, {"max_tokens", 0}, {"echo", true}, {"logprobs", 2}};
      ++started;
      auto res = client.Post("/v1/completions", body.dump(), "application/json");
      if (res && res->status == 200 && json::parse(res->body)["choices"].size() == 1) ++answered;
    });
  while (started < kInFlight) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(150));  // the requests reach the server
  live.stop();  // returns once every accepted request is answered
  for (auto& t : clients) t.join();
  EXPECT_EQ(answered, kInFlight);
  // And nothing listens any more.
  auto after = live.client().Get("/health");
  EXPECT_FALSE(after);
}

}  // namespace
