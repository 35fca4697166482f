// Kernel throughput on Qwen2-0.5B shapes (hidden 896, 14/2 heads of 64, MLP
// 4864, vocabulary 151936, BF16 weights, f32 activations), and a 24-layer
// prefill estimate.
//   cloze_bench_kernels --benchmark_filter=Matmul --benchmark_repetitions=5
// Times are process CPU time (MeasureProcessCPUTime): the machines this runs
// on are shared, and CPU time is what stays comparable under load. With
// threads=2 the CPU time is the sum over both threads, so GFLOP/s there is per
// core-second; the wall-clock speedup needs an idle machine.
// The kernel set is an argument (1 = avx2, 2 = avx512, 3 = amx exact, 4 = amx
// with bf16 activations; sets the CPU lacks are skipped);
// CLOZE_KERNELS=ref|avx2|avx512|amx picks it for the Prefill benchmarks.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "cloze/model.h"
#include "kernels/kernels.h"
#include "kernels/kernels_internal.h"

namespace k = cloze::kernels;

namespace {

constexpr size_t kHidden = 896, kInter = 4864, kHeads = 14, kKVHeads = 2, kHeadDim = 64;
constexpr int kLayers = 24;

cloze::ThreadPool& pool(size_t threads) {
  static std::map<size_t, std::unique_ptr<cloze::ThreadPool>> pools;
  auto& p = pools[threads];
  if (!p) p = std::make_unique<cloze::ThreadPool>(threads);
  return *p;
}

std::vector<float> rand_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// A BF16 [N, K] weight with small random values.
struct BWeight {
  std::vector<uint16_t> data;
  k::Weight w;
  BWeight(size_t N, size_t K, uint32_t seed) : data(N * K) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> d(-0.05f, 0.05f);
    for (auto& h : data) {
      float f = d(rng);
      uint32_t u;
      std::memcpy(&u, &f, 4);
      h = uint16_t(u >> 16);
    }
    w = k::prepare_weight({data.data(), k::WType::BF16, N, K});
  }
};

struct Shape {
  const char* name;
  size_t N, K;
};
const Shape kShapes[] = {{"q_proj/o_proj", kHidden, kHidden},
                         {"k_proj/v_proj", kKVHeads * kHeadDim, kHidden},
                         {"gate_proj/up_proj", kInter, kHidden},
                         {"down_proj", kHidden, kInter},
                         {"lm_head", 151936, kHidden}};

// 1: avx2, 2: avx512, 3: amx (exact, bf16x3), 4: amx with bf16 activations
// (the pool's precision is set by the caller); false when the CPU lacks it.
bool select_set(int64_t set, const char** name) {
  if (set == 3 && k::amx_supported()) return *name = "amx", k::force_kernels(k::KernelSet::Amx), true;
  if (set == 4 && k::amx_supported()) return *name = "amx-bf16", k::force_kernels(k::KernelSet::Amx), true;
  if (set == 2 && k::avx512_supported()) return *name = "avx512", k::force_kernels(k::KernelSet::Avx512), true;
  if (set == 1 && k::avx2_supported()) return *name = "avx2", k::force_kernels(k::KernelSet::Avx2), true;
  return false;
}

// args: shape index, M, threads, kernel set. The lm_head (272 MB) is far
// larger than any cache, so M = 1 there is the decode memory-bandwidth figure.
void BM_Matmul(benchmark::State& state) {
  const Shape& s = kShapes[state.range(0)];
  const size_t M = size_t(state.range(1)), threads = size_t(state.range(2));
  const char* set = "";
  const k::KernelSet before = k::kernels_in_use();
  if (!select_set(state.range(3), &set)) return state.SkipWithError("kernel set not supported on this CPU");
  static std::map<int64_t, std::unique_ptr<BWeight>> weights;  // built once per shape
  auto& w = weights[state.range(0)];
  if (!w) w = std::make_unique<BWeight>(s.N, s.K, 1);
  auto x = rand_floats(M * s.K, 2);
  std::vector<float> y(M * s.N);
  auto& p = pool(threads);
  p.set_precision(state.range(3) == 4 ? cloze::Precision::Bf16 : cloze::Precision::Exact);
  for (auto _ : state) {
    k::matmul(x.data(), s.K, M, w->w, nullptr, y.data(), s.N, p);
    benchmark::DoNotOptimize(y.data());
  }
  p.set_precision(cloze::Precision::Exact);
  k::force_kernels(before);
  state.SetLabel(std::string(s.name) + " " + set);
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * double(M * s.N * s.K) / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GB/s"] =
      benchmark::Counter(2.0 * double(s.N * s.K) / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Matmul)
    ->ArgsProduct({{0, 1, 2, 3}, {1, 16, 128, 512}, {1, 2}, {1, 2, 3, 4}})
    ->ArgsProduct({{4}, {1, 16}, {1, 2}, {1, 2, 3, 4}})
    ->ArgNames({"shape", "M", "threads", "set"})
    ->MeasureProcessCPUTime()
    ->Unit(benchmark::kMicrosecond);

// Causal GQA self-attention of T new tokens on an empty cache. args: T, threads.
void BM_Attention(benchmark::State& state) {
  const size_t T = size_t(state.range(0)), threads = size_t(state.range(1));
  const size_t dq = kHeads * kHeadDim, dkv = kKVHeads * kHeadDim;
  auto q = rand_floats(T * dq, 3), kk = rand_floats(T * dkv, 4), v = rand_floats(T * dkv, 5);
  std::vector<float> out(T * dq);
  k::KVSegment seg{kk.data(), v.data(), T, dkv};
  auto& p = pool(threads);
  for (auto _ : state) {
    k::attention(q.data(), dq, T, &seg, 1, kHeads, kKVHeads, kHeadDim, 0.125f, out.data(), dq, p);
    benchmark::DoNotOptimize(out.data());
  }
  // QK and PV: 2 * 2 * head_dim flops per (head, visible position).
  double flops = 4.0 * kHeadDim * kHeads * double(T) * double(T + 1) / 2;
  state.counters["GFLOP/s"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(k::kernel_set());
}
BENCHMARK(BM_Attention)
    ->ArgsProduct({{128, 512}, {1, 2}})
    ->ArgNames({"T", "threads"})
    ->MeasureProcessCPUTime()
    ->Unit(benchmark::kMicrosecond);

// The weights of a few distinct layers, used in turn, so each iteration
// streams weights the way a 24-layer forward does instead of reusing one
// layer's 29 MB from the last-level cache.
struct Layer {
  BWeight q, kw, v, o, gate, up, down;
  std::vector<float> bq, bk, bv, norm1, norm2;
  explicit Layer(uint32_t s)
      : q(kHidden, kHidden, s), kw(kKVHeads * kHeadDim, kHidden, s + 1),
        v(kKVHeads * kHeadDim, kHidden, s + 2), o(kHidden, kHidden, s + 3),
        gate(kInter, kHidden, s + 4), up(kInter, kHidden, s + 5), down(kHidden, kInter, s + 6),
        bq(rand_floats(kHidden, s)), bk(rand_floats(128, s + 1)), bv(rand_floats(128, s + 2)),
        norm1(rand_floats(kHidden, s + 3)), norm2(rand_floats(kHidden, s + 4)) {}
};
constexpr int kDistinctLayers = 4;

std::vector<std::unique_ptr<Layer>>& layers() {
  static std::vector<std::unique_ptr<Layer>> ls;
  if (ls.empty())
    for (int i = 0; i < kDistinctLayers; ++i) ls.push_back(std::make_unique<Layer>(100 + 10 * i));
  return ls;
}

// One iteration = one layer's 7 matmuls at M tokens (2 threads); the
// tokens/s counter is M / (24 * layer time): the prefill rate the matmuls
// alone allow. args: M.
void BM_PrefillMatmuls(benchmark::State& state) {
  const size_t M = size_t(state.range(0));
  auto& ls = layers();
  auto x = rand_floats(M * kInter, 7);
  std::vector<float> qo(M * kHidden), kv(M * 128), g(M * kInter), u(M * kInter), h(M * kHidden);
  auto& p = pool(2);
  int li = 0;
  for (auto _ : state) {
    Layer& L = *ls[li++ % kDistinctLayers];
    k::matmul(x.data(), kHidden, M, L.q.w, L.bq.data(), qo.data(), kHidden, p);
    k::matmul(x.data(), kHidden, M, L.kw.w, L.bk.data(), kv.data(), 128, p);
    k::matmul(x.data(), kHidden, M, L.v.w, L.bv.data(), kv.data(), 128, p);
    k::matmul(qo.data(), kHidden, M, L.o.w, nullptr, h.data(), kHidden, p);
    k::matmul(h.data(), kHidden, M, L.gate.w, nullptr, g.data(), kInter, p);
    k::matmul(h.data(), kHidden, M, L.up.w, nullptr, u.data(), kInter, p);
    k::matmul(g.data(), kInter, M, L.down.w, nullptr, h.data(), kHidden, p);
    benchmark::DoNotOptimize(h.data());
  }
  state.counters["tokens/s"] =
      benchmark::Counter(double(M) / kLayers, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(k::kernel_set());
}
BENCHMARK(BM_PrefillMatmuls)->Arg(16)->Arg(128)->Arg(512)->ArgName("M")->MeasureProcessCPUTime()->Unit(benchmark::kMillisecond);

// A whole layer: norms, q/k/v with bias, rope, attention over the M tokens,
// o_proj, residuals, SwiGLU MLP. tokens/s = M / (24 * layer time). args: M.
void BM_PrefillLayer(benchmark::State& state) {
  const size_t M = size_t(state.range(0));
  auto& ls = layers();
  auto resid = rand_floats(M * kHidden, 8);
  std::vector<float> xn(M * kHidden), q(M * kHidden), kk(M * 128), v(M * 128), att(M * kHidden),
      t(M * kHidden), g(M * kInter), u(M * kInter);
  std::vector<int32_t> pos(M);
  for (size_t i = 0; i < M; ++i) pos[i] = int32_t(i);
  std::vector<float> inv_freq(kHeadDim / 2);
  for (size_t i = 0; i < kHeadDim / 2; ++i)
    inv_freq[i] = std::pow(1e6f, -2.0f * float(i) / float(kHeadDim));
  auto& p = pool(2);
  int li = 0;
  for (auto _ : state) {
    Layer& L = *ls[li++ % kDistinctLayers];
    k::rmsnorm(resid.data(), kHidden, M, kHidden, L.norm1.data(), 1e-6f, xn.data(), kHidden);
    k::matmul(xn.data(), kHidden, M, L.q.w, L.bq.data(), q.data(), kHidden, p);
    k::matmul(xn.data(), kHidden, M, L.kw.w, L.bk.data(), kk.data(), 128, p);
    k::matmul(xn.data(), kHidden, M, L.v.w, L.bv.data(), v.data(), 128, p);
    k::rope(q.data(), kHidden, M, kHeads, kHeadDim, pos.data(), inv_freq.data());
    k::rope(kk.data(), 128, M, kKVHeads, kHeadDim, pos.data(), inv_freq.data());
    k::KVSegment seg{kk.data(), v.data(), M, 128};
    k::attention(q.data(), kHidden, M, &seg, 1, kHeads, kKVHeads, kHeadDim, 0.125f, att.data(),
                 kHidden, p);
    k::matmul(att.data(), kHidden, M, L.o.w, nullptr, t.data(), kHidden, p);
    k::rmsnorm(t.data(), kHidden, M, kHidden, L.norm2.data(), 1e-6f, xn.data(), kHidden);
    k::matmul(xn.data(), kHidden, M, L.gate.w, nullptr, g.data(), kInter, p);
    k::matmul(xn.data(), kHidden, M, L.up.w, nullptr, u.data(), kInter, p);
    k::silu_mul(g.data(), u.data(), M * kInter);
    k::matmul(g.data(), kInter, M, L.down.w, nullptr, t.data(), kHidden, p);
    benchmark::DoNotOptimize(t.data());
  }
  state.counters["tokens/s"] =
      benchmark::Counter(double(M) / kLayers, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(k::kernel_set());
}
BENCHMARK(BM_PrefillLayer)->Arg(16)->Arg(128)->Arg(512)->ArgName("M")->MeasureProcessCPUTime()->Unit(benchmark::kMillisecond);

// ---- whole model (CLOZE_BENCH_MODEL=<model dir>, e.g. a Qwen2-0.5B) ------
//
// The reported time is the CPU time of the calling thread (thread 0 of the
// pool, which also runs everything serial). On a machine with a free core per
// thread that is about the wall time, and unlike wall time it does not
// stretch when other processes take the cores: the figure to compare across
// runs on a shared machine. "process_cpu_ms" is the CPU time summed over all
// threads (equal to the 1-thread time when the split costs nothing).

double thread_cpu() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
}
double process_cpu() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
}

cloze::RunContext* bench_model(size_t threads) {
  static std::unique_ptr<cloze::Model> model;
  static std::map<size_t, std::unique_ptr<cloze::RunContext>> contexts;
  const char* dir = std::getenv("CLOZE_BENCH_MODEL");
  if (!dir) return nullptr;
  if (!model) model = cloze::Model::load(dir);
  auto& c = contexts[threads];
  if (!c) c = std::make_unique<cloze::RunContext>(*model, threads);
  return c.get();
}

std::vector<int32_t> bench_ids(size_t n, size_t vocab) {
  std::mt19937 gen{uint32_t(n)};
  std::vector<int32_t> ids(n);
  for (auto& id : ids) id = int32_t(gen() % std::min<size_t>(vocab, 100000));
  return ids;
}

// Prefill of T tokens on an empty cache, the logit of one row at the last
// position (as `cloze bench` does). args: T, threads.
void BM_ModelPrefill(benchmark::State& state) {
  cloze::RunContext* m = bench_model(size_t(state.range(1)));
  if (!m) return state.SkipWithError("set CLOZE_BENCH_MODEL to a model directory");
  const size_t T = size_t(state.range(0));
  auto ids = bench_ids(T, m->model().config().vocab_size);
  const int32_t row = 0;
  double proc = 0;
  for (auto _ : state) {
    cloze::KVCache cache(m->model());
    cloze::ForwardItem item{&cache, ids, cloze::Outputs::Last};
    const double t0 = thread_cpu(), p0 = process_cpu();
    m->forward({&item, 1}, {.rows = {&row, 1}});
    state.SetIterationTime(thread_cpu() - t0);
    proc += process_cpu() - p0;
  }
  state.counters["tokens/s"] = benchmark::Counter(double(T), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["process_cpu_ms"] = 1e3 * proc / double(state.iterations());
  state.SetLabel(k::kernel_set());
}
BENCHMARK(BM_ModelPrefill)
    ->ArgsProduct({{16, 128, 512}, {1, 2}})
    ->ArgNames({"T", "threads"})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// One decode step against a 16-token cache, full 151936-row lm_head.
// args: threads.
void BM_ModelDecode(benchmark::State& state) {
  cloze::RunContext* m = bench_model(size_t(state.range(0)));
  if (!m) return state.SkipWithError("set CLOZE_BENCH_MODEL to a model directory");
  auto ids = bench_ids(16, m->model().config().vocab_size);
  cloze::KVCache cache(m->model());
  cloze::ForwardItem item{&cache, ids, cloze::Outputs::Last};
  m->forward({&item, 1});
  int32_t next = ids.back();
  double proc = 0;
  for (auto _ : state) {
    if (cache.size() > 1000) cache.truncate(16);
    cloze::ForwardItem step{&cache, {&next, 1}, cloze::Outputs::Last};
    const double t0 = thread_cpu(), p0 = process_cpu();
    auto r = m->forward({&step, 1});
    state.SetIterationTime(thread_cpu() - t0);
    proc += process_cpu() - p0;
    next = int32_t(std::max_element(r[0].logits.begin(), r[0].logits.end()) - r[0].logits.begin());
  }
  state.counters["tokens/s"] = benchmark::Counter(1.0, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["process_cpu_ms"] = 1e3 * proc / double(state.iterations());
  state.SetLabel(k::kernel_set());
}
BENCHMARK(BM_ModelDecode)->Arg(1)->Arg(2)->ArgName("threads")->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
