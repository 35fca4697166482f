// The forward pass against logits computed by transformers (float32, eager
// attention) for random-weight checkpoints: tests/fixtures/models/*/expected.json.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cloze/error.h"
#include "cloze/model.h"
#include "kernels/kernels.h"
#include "test_util.h"

namespace {

namespace k = cloze::kernels;
const std::string kModels = std::string(CLOZE_FIXTURES) + "/models/";

struct Golden {
  std::vector<std::vector<int32_t>> ids;
  std::vector<std::vector<float>> logits;  // [positions * vocab] per sequence
};

Golden read_golden(const std::string& name) {
  std::ifstream in(kModels + name + "/expected.json");
  auto j = nlohmann::json::parse(in);
  Golden g;
  for (const auto& s : j["sequences"]) {
    g.ids.push_back(s["ids"].get<std::vector<int32_t>>());
    std::vector<float> flat;
    for (const auto& row : s["logits"])
      for (const auto& v : row) flat.push_back(v.get<float>());
    g.logits.push_back(std::move(flat));
  }
  return g;
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float d = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) d = std::max(d, std::fabs(a[i] - b[i]));
  return d;
}

std::vector<float> run_all(const cloze::Model& m, const std::vector<int32_t>& ids) {
  cloze::KVCache cache(m);
  cloze::ForwardItem item{&cache, ids, cloze::Outputs::All};
  return cloze::RunContext(m).forward({&item, 1})[0].logits;
}

class GoldenModel : public ::testing::TestWithParam<std::string> {};

// On every kernel set the CPU has, AMX included (the FMA sets agree bit for
// bit, AMX within float32 rounding; each is checked against the truth).
TEST_P(GoldenModel, AllPositionsMatchTransformers) {
  auto model = cloze::Model::load(kModels + GetParam(), {.threads = 2});
  Golden g = read_golden(GetParam());
  ASSERT_EQ(g.ids.size(), 4u);
  for (auto set : {k::KernelSet::Ref, k::KernelSet::Avx2, k::KernelSet::Avx512, k::KernelSet::Amx}) {
    if (!k::supported(set)) continue;
    k::force_kernels(set);
    for (size_t s = 0; s < g.ids.size(); ++s) {
      float d = max_abs_diff(run_all(*model, g.ids[s]), g.logits[s]);
      std::printf("  %s [%s] seq %zu (%zu tokens): max |diff| = %.3g\n", GetParam().c_str(), k::kernel_set(), s,
                  g.ids[s].size(), d);
      EXPECT_LT(d, 1e-4f) << "sequence " << s << " on " << k::kernel_set();
    }
  }
  k::force_reference(false);
}

// One Model, two RunContexts running at once on two threads: each gets the
// bits a lone run gets (the model is read-only; all run state is per context).
TEST_P(GoldenModel, TwoContextsOnOneModelFromTwoThreads) {
  auto model = cloze::Model::load(kModels + GetParam(), {.threads = 2});
  Golden g = read_golden(GetParam());
  std::vector<std::vector<float>> alone;
  for (const auto& ids : g.ids) alone.push_back(run_all(*model, ids));
  std::vector<std::vector<float>> got[2];
  auto work = [&](int who) {
    cloze::RunContext ctx(*model, 2);
    for (int round = 0; round < 3; ++round)
      for (size_t s = 0; s < g.ids.size(); ++s) {
        const size_t pick = (s + size_t(who)) % g.ids.size();  // the two threads run different lengths at once
        cloze::KVCache cache(*model);
        cloze::ForwardItem item{&cache, g.ids[pick], cloze::Outputs::All};
        auto r = ctx.forward({&item, 1})[0].logits;
        if (round == 0) got[who].resize(g.ids.size());
        if (round == 0) got[who][pick] = r;
        EXPECT_EQ(0, std::memcmp(r.data(), alone[pick].data(), r.size() * 4)) << "thread " << who << " seq " << pick;
      }
  };
  std::thread t0(work, 0), t1(work, 1);
  t0.join();
  t1.join();
  for (int who = 0; who < 2; ++who)
    for (size_t s = 0; s < g.ids.size(); ++s) ASSERT_EQ(got[who][s].size(), alone[s].size());
}

TEST_P(GoldenModel, PrefixThenContinueEqualsOnePass) {
  auto model = cloze::Model::load(kModels + GetParam(), {.threads = 2});
  cloze::RunContext ctx(*model);
  Golden g = read_golden(GetParam());
  const auto& ids = g.ids.back();  // the longest sequence
  auto whole = run_all(*model, ids);
  const size_t V = model->config().vocab_size;
  for (size_t split : {size_t(1), size_t(7), ids.size() / 2, ids.size() - 1}) {
    cloze::KVCache cache(*model);
    std::vector<int32_t> a(ids.begin(), ids.begin() + split), b(ids.begin() + split, ids.end());
    cloze::ForwardItem i1{&cache, a, cloze::Outputs::All};
    auto r1 = ctx.forward({&i1, 1})[0].logits;
    cloze::ForwardItem i2{&cache, b, cloze::Outputs::All};
    auto r2 = ctx.forward({&i2, 1})[0].logits;
    r1.insert(r1.end(), r2.begin(), r2.end());
    ASSERT_EQ(r1.size(), ids.size() * V);
    EXPECT_LE(max_abs_diff(r1, whole), 1e-6f) << "split at " << split;
  }
}

TEST_P(GoldenModel, SharedPrefixParentEqualsOnePass) {
  auto model = cloze::Model::load(kModels + GetParam(), {.threads = 2});
  cloze::RunContext ctx(*model);
  Golden g = read_golden(GetParam());
  const auto& ids = g.ids.back();
  const size_t split = 10, V = model->config().vocab_size;
  auto parent = std::make_shared<cloze::KVCache>(*model);
  std::vector<int32_t> prefix(ids.begin(), ids.begin() + split);
  cloze::ForwardItem ip{parent.get(), prefix, cloze::Outputs::None};
  ctx.forward({&ip, 1});
  // Two children with different continuations, run in one batch.
  std::vector<int32_t> rest(ids.begin() + split, ids.end()), other(ids.begin() + split, ids.begin() + split + 5);
  cloze::KVCache c1(*model, parent), c2(*model, parent);
  cloze::ForwardItem items[] = {{&c1, rest, cloze::Outputs::All}, {&c2, other, cloze::Outputs::Last}};
  auto r = ctx.forward(items);
  auto whole = run_all(*model, ids);
  std::vector<float> tail(whole.begin() + split * V, whole.end());
  EXPECT_LE(max_abs_diff(r[0].logits, tail), 1e-6f);
  std::vector<float> at5(whole.begin() + (split + 4) * V, whole.begin() + (split + 5) * V);
  EXPECT_LE(max_abs_diff(r[1].logits, at5), 1e-6f);
}

TEST_P(GoldenModel, ChildSeesOnlyPartOfParent) {
  // A prefix cache holds 16 tokens; a child that diverges after 10 of them
  // must behave as if the parent held only those 10.
  auto model = cloze::Model::load(kModels + GetParam(), {.threads = 2});
  cloze::RunContext ctx(*model);
  Golden g = read_golden(GetParam());
  const auto& ids = g.ids.back();
  const size_t V = model->config().vocab_size;
  auto parent = std::make_shared<cloze::KVCache>(*model);
  std::vector<int32_t> prefix(ids.begin(), ids.begin() + 16);
  prefix[15] = (prefix[15] + 1) % int32_t(V);  // the part the child must not see differs
  prefix[12] = (prefix[12] + 3) % int32_t(V);
  cloze::ForwardItem ip{parent.get(), prefix, cloze::Outputs::None};
  ctx.forward({&ip, 1});
  // And a grandchild chain: parent(16) <- mid(sees 10, adds 5) <- leaf(sees 12).
  cloze::KVCache child(*model, parent, 10);
  std::vector<int32_t> rest(ids.begin() + 10, ids.end());
  cloze::ForwardItem ic{&child, rest, cloze::Outputs::All};
  auto r = ctx.forward({&ic, 1})[0].logits;
  auto whole = run_all(*model, ids);
  EXPECT_LE(max_abs_diff(r, std::vector<float>(whole.begin() + 10 * V, whole.end())), 1e-6f);

  auto mid = std::make_shared<cloze::KVCache>(*model, parent, 10);
  std::vector<int32_t> five(ids.begin() + 10, ids.begin() + 15);
  cloze::ForwardItem im{mid.get(), five, cloze::Outputs::None};
  ctx.forward({&im, 1});
  cloze::KVCache leaf(*model, mid, 12);
  std::vector<int32_t> tail(ids.begin() + 12, ids.end());
  cloze::ForwardItem il{&leaf, tail, cloze::Outputs::All};
  auto rl = ctx.forward({&il, 1})[0].logits;
  EXPECT_LE(max_abs_diff(rl, std::vector<float>(whole.begin() + 12 * V, whole.end())), 1e-6f);
  EXPECT_THROW(cloze::KVCache(*model, parent, 17), cloze::Error);
}

TEST_P(GoldenModel, BatchAndThreadCountDoNotChangeBits) {
  Golden g = read_golden(GetParam());
  auto m1 = cloze::Model::load(kModels + GetParam(), {.threads = 1});
  auto m3 = cloze::Model::load(kModels + GetParam(), {.threads = 3});
  std::vector<cloze::KVCache> caches;
  caches.reserve(g.ids.size());
  std::vector<cloze::ForwardItem> items;
  for (const auto& ids : g.ids) {
    caches.emplace_back(*m3);
    items.push_back({&caches.back(), ids, cloze::Outputs::All});
  }
  auto batched = cloze::RunContext(*m3).forward(items);
  for (size_t s = 0; s < g.ids.size(); ++s) {
    auto single = run_all(*m1, g.ids[s]);
    ASSERT_EQ(batched[s].logits.size(), single.size());
    EXPECT_EQ(0, std::memcmp(batched[s].logits.data(), single.data(), single.size() * 4))
        << "sequence " << s << " differs between batch/3 threads and single/1 thread";
  }
}

// Items that drop their new K/V after the pass (classification prompts) get
// the same bits as items that keep it, in a mixed batch on a shared prefix,
// and their caches are left as they were.
TEST_P(GoldenModel, DroppingNewKVChangesNoBit) {
  auto model = cloze::Model::load(kModels + GetParam(), {.threads = 2});
  cloze::RunContext ctx(*model);
  Golden g = read_golden(GetParam());
  const auto& ids = g.ids.back();
  const size_t split = 10;
  auto parent = std::make_shared<cloze::KVCache>(*model);
  std::vector<int32_t> prefix(ids.begin(), ids.begin() + split);
  cloze::ForwardItem ip{parent.get(), prefix, cloze::Outputs::None};
  ctx.forward({&ip, 1});
  std::vector<int32_t> rest(ids.begin() + split, ids.end()), other(ids.begin() + split, ids.begin() + split + 5);
  auto run = [&](bool keep) {
    cloze::KVCache c1(*model, parent), c2(*model, parent), c3(*model);
    cloze::ForwardItem items[] = {{&c1, rest, cloze::Outputs::All, keep},
                                  {&c2, other, cloze::Outputs::Last, true},
                                  {&c3, g.ids[0], cloze::Outputs::All, keep}};
    auto r = ctx.forward(items);
    EXPECT_EQ(c1.own_size(), keep ? rest.size() : 0u);
    EXPECT_EQ(c3.size(), keep ? g.ids[0].size() : 0u);
    EXPECT_EQ(c2.own_size(), other.size());
    return r;
  };
  auto kept = run(true), dropped = run(false);
  for (size_t i = 0; i < kept.size(); ++i) {
    ASSERT_EQ(kept[i].logits.size(), dropped[i].logits.size());
    EXPECT_EQ(0, std::memcmp(kept[i].logits.data(), dropped[i].logits.data(), kept[i].logits.size() * 4))
        << "item " << i;
  }
}

TEST_P(GoldenModel, RestrictedRowsAndLogsumexpMatchFullRow) {
  auto model = cloze::Model::load(kModels + GetParam(), {.threads = 2});
  cloze::RunContext ctx(*model);
  Golden g = read_golden(GetParam());
  const auto& ids = g.ids[2];
  const size_t V = model->config().vocab_size;
  auto full = run_all(*model, ids);
  std::vector<int32_t> rows = {5, 3, int32_t(V - 1), 5};
  cloze::KVCache cache(*model);
  cloze::ForwardItem it{&cache, ids, cloze::Outputs::Last};
  auto r = ctx.forward({&it, 1}, {.rows = rows, .logsumexp = true})[0];
  ASSERT_EQ(r.positions, 1u);
  ASSERT_EQ(r.cols, rows.size());
  const float* last = &full[(ids.size() - 1) * V];
  for (size_t j = 0; j < rows.size(); ++j) EXPECT_EQ(r.logits[j], last[rows[j]]);
  double m = *std::max_element(last, last + V), s = 0;
  for (size_t v = 0; v < V; ++v) s += std::exp(double(last[v]) - m);
  EXPECT_NEAR(r.lse[0], m + std::log(s), 1e-5);
}

// The last layer runs only the rows the head reads (forward.cpp last_layer):
// in a batch mixing None, Last and All items those rows keep the bits of a
// full pass, and the None item's cache (last layer's K/V included) continues
// exactly as one built by a pass that read every row.
TEST_P(GoldenModel, LastLayerReadRowsOnlyKeepsBitsAndCache) {
  auto model = cloze::Model::load(kModels + GetParam(), {.threads = 2});
  cloze::RunContext ctx(*model);
  Golden g = read_golden(GetParam());
  const size_t V = model->config().vocab_size;
  const auto &s0 = g.ids[0], &s1 = g.ids[1], &s2 = g.ids.back();
  const size_t split = s0.size() / 2;
  std::vector<int32_t> head(s0.begin(), s0.begin() + split), tail(s0.begin() + split, s0.end());
  cloze::KVCache ca(*model), cb(*model), cc(*model);
  cloze::ForwardItem items[] = {{&ca, head, cloze::Outputs::None},
                                {&cb, s1, cloze::Outputs::Last},
                                {&cc, s2, cloze::Outputs::All}};
  auto r = ctx.forward(items);
  const auto full1 = run_all(*model, s1), full2 = run_all(*model, s2), full0 = run_all(*model, s0);
  ASSERT_EQ(r[1].logits.size(), V);
  EXPECT_EQ(0, std::memcmp(r[1].logits.data(), &full1[(s1.size() - 1) * V], V * 4)) << "Last item";
  ASSERT_EQ(r[2].logits.size(), full2.size());
  EXPECT_EQ(0, std::memcmp(r[2].logits.data(), full2.data(), full2.size() * 4)) << "All item";
  cloze::ForwardItem more{&ca, tail, cloze::Outputs::All};
  auto cont = ctx.forward({&more, 1})[0].logits;
  ASSERT_EQ(cont.size(), tail.size() * V);
  EXPECT_EQ(0, std::memcmp(cont.data(), &full0[split * V], cont.size() * 4)) << "continued None item";
}

INSTANTIATE_TEST_SUITE_P(Models, GoldenModel,
                         ::testing::ValuesIn(cloze::test::golden_models()), cloze::test::param_name);

}  // namespace
