// The AMX set's matmul (bf16 weights, activations split into three bf16
// terms): float32 accuracy against a double-precision truth and the scalar
// reference, including subnormal and huge activations; bitwise invariance to
// batching, row subsets and thread count within the set; the opt-in bf16
// precision measurably less accurate. Skipped where the CPU or OS lacks AMX.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cloze/model.h"
#include "kernels/kernels_internal.h"
#include "test_util.h"

namespace k = cloze::kernels;
using cloze::Precision;
using cloze::ThreadPool;

namespace {

#define NEED_AMX() \
  if (!k::amx_supported()) GTEST_SKIP() << "CPU or OS lacks AMX-BF16"

struct SetInScope {
  explicit SetInScope(k::KernelSet s) : before(k::kernels_in_use()) { k::force_kernels(s); }
  ~SetInScope() { k::force_kernels(before); }
  k::KernelSet before;
};

std::vector<float> rand_floats(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Random bf16 weights [N, K] (a float with its low 16 bits cleared).
struct Bf16Weight {
  std::vector<uint16_t> bits;
  k::Weight w;
  float at(size_t n, size_t kk) const { return k::bf16_to_f32(bits[n * w.cols + kk]); }
};
Bf16Weight make_weight(size_t N, size_t K, uint32_t seed) {
  Bf16Weight b;
  auto f = rand_floats(N * K, seed);
  b.bits.resize(N * K);
  for (size_t i = 0; i < f.size(); ++i) {
    uint32_t u;
    std::memcpy(&u, &f[i], 4);
    b.bits[i] = uint16_t(u >> 16);
  }
  b.w = k::Weight{b.bits.data(), k::WType::BF16, N, K};
  return b;
}

void run(k::KernelSet set, const float* x, size_t ldx, size_t M, const k::Weight& w, const float* bias,
         float* y, size_t ldy, ThreadPool& pool) {
  SetInScope s(set);
  k::matmul(x, ldx, M, w, bias, y, ldy, pool);
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

// Checks y against the exact sum in double: |y - truth| within float32
// rounding of the K-term sum, tol = K * 2^-23 * sum |x w| (+ the smallest
// subnormal, for outputs in the subnormal range). Returns the worst error
// in units of that sum.
double check_accuracy(const std::vector<float>& x, size_t M, size_t K, const Bf16Weight& bw,
                      const std::vector<float>& y, const std::string& what, bool expect_ok = true) {
  const size_t N = bw.w.rows;
  double worst = 0;
  for (size_t m = 0; m < M; ++m)
    for (size_t n = 0; n < N; ++n) {
      double truth = 0, mag = 0;
      for (size_t kk = 0; kk < K; ++kk) {
        const double p = double(x[m * K + kk]) * double(bw.at(n, kk));
        truth += p;
        mag += std::fabs(p);
      }
      const double err = std::fabs(double(y[m * N + n]) - truth);
      const double tol = double(K) * std::ldexp(1.0, -23) * mag + std::ldexp(1.0, -148);
      if (mag > 0) worst = std::max(worst, err / mag);
      if (expect_ok) {
        EXPECT_LE(err, tol) << what << " m=" << m << " n=" << n << ": " << y[m * N + n] << " vs " << truth;
        if (err > tol) return worst;
      }
    }
  return worst;
}

}  // namespace

TEST(KernelAmx, FloatAccuracyAwkwardShapes) {
  NEED_AMX();
  ThreadPool pool(2);
  uint32_t seed = 100;
  // M across one x tile and pairs of them (odd, partial), N across the 16-row
  // tiles and 32/64-row blocks, K not a multiple of 32 and across K blocks of 256.
  const size_t shapes[][3] = {{1, 1, 1},   {1, 17, 33},  {3, 70, 100}, {16, 64, 896},
                              {17, 33, 31}, {40, 130, 300}, {5, 16, 4864}, {33, 48, 257}};
  for (const auto& c : shapes) {
    const size_t M = c[0], N = c[1], K = c[2];
    auto bw = make_weight(N, K, seed++);
    auto x = rand_floats(M * K, seed++, -4.0f, 4.0f);
    auto bias = rand_floats(N, seed++);
    std::vector<float> y(M * N), yb(M * N), yr(M * N);
    run(k::KernelSet::Amx, x.data(), K, M, bw.w, nullptr, y.data(), N, pool);
    const std::string what = "M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" + std::to_string(K);
    check_accuracy(x, M, K, bw, y, what);
    // With a bias: the sum plus the bias, as the reference adds it.
    run(k::KernelSet::Amx, x.data(), K, M, bw.w, bias.data(), yb.data(), N, pool);
    for (size_t i = 0; i < M * N; ++i) ASSERT_EQ(yb[i], y[i] + bias[i % N]) << what;
    // The FMA reference is held to the same bound (so the two are within
    // twice it of each other), and is not bitwise what the tile unit gives.
    run(k::KernelSet::Ref, x.data(), K, M, bw.w, nullptr, yr.data(), N, pool);
    check_accuracy(x, M, K, bw, yr, "ref " + what);
  }
}

// Activations far from 1: subnormal rows (the tile unit flushes bf16
// subnormals; the per-row power-of-two scaling keeps them), huge rows, and
// rows of both kinds next to ordinary ones in the same x tile.
TEST(KernelAmx, SubnormalAndHugeActivations) {
  NEED_AMX();
  ThreadPool pool(2);
  const size_t M = 6, N = 40, K = 200;
  auto bw = make_weight(N, K, 7);
  auto x = rand_floats(M * K, 8);
  const float row_scale[M] = {1.0f, 1e-40f, 1e30f, 1e-30f, 3e36f, 1.0f};
  for (size_t m = 0; m < M; ++m)
    for (size_t kk = 0; kk < K; ++kk) x[m * K + kk] *= row_scale[m];
  x[5 * K + 3] = 1e-41f;  // one subnormal among ordinary values
  std::vector<float> y(M * N), yr(M * N);
  run(k::KernelSet::Amx, x.data(), K, M, bw.w, nullptr, y.data(), N, pool);
  check_accuracy(x, M, K, bw, y, "scaled rows");
  // Against the scalar reference, relative to each row's scale. (The
  // reference's own products of subnormals round to 2^-149, so row 1 is
  // compared to the double truth above, not to it.)
  run(k::KernelSet::Ref, x.data(), K, M, bw.w, nullptr, yr.data(), N, pool);
  for (size_t m : {0, 2, 3, 4, 5})
    for (size_t n = 0; n < N; ++n)
      ASSERT_NEAR(y[m * N + n] / row_scale[m], yr[m * N + n] / row_scale[m], 2e-4) << "row " << m;
  // Rows of zeros give zeros.
  std::vector<float> z(2 * K, 0.0f), yz(2 * N, 1.0f);
  run(k::KernelSet::Amx, z.data(), K, 2, bw.w, nullptr, yz.data(), N, pool);
  for (float v : yz) EXPECT_EQ(v, 0.0f);
}

TEST(KernelAmx, BatchRowsAndThreadInvariance) {
  NEED_AMX();
  for (size_t K : {96, 896, 1100}) {
    const size_t M = 70, N = 150;
    auto bw = make_weight(N, K, 21);
    auto x = rand_floats(M * K, 22, -2.0f, 2.0f);
    std::vector<float> all(M * N);
    ThreadPool p2(2);
    run(k::KernelSet::Amx, x.data(), K, M, bw.w, nullptr, all.data(), N, p2);
    // One row at a time, and sub-batches at offsets across the 16-row tiles.
    for (size_t m = 0; m < M; m += 9) {
      std::vector<float> y1(N), want(all.begin() + m * N, all.begin() + (m + 1) * N);
      run(k::KernelSet::Amx, x.data() + m * K, K, 1, bw.w, nullptr, y1.data(), N, p2);
      ASSERT_TRUE(same_bits(want, y1)) << "K=" << K << " row " << m << " alone";
    }
    for (size_t len : {2, 15, 16, 17, 33})
      for (size_t off : {0, 5, 11}) {
        std::vector<float> yb(len * N), want(all.begin() + off * N, all.begin() + (off + len) * N);
        run(k::KernelSet::Amx, x.data() + off * K, K, len, bw.w, nullptr, yb.data(), N, p2);
        ASSERT_TRUE(same_bits(want, yb)) << "K=" << K << " batch of " << len << " at " << off;
      }
    for (size_t threads : {1, 3}) {
      ThreadPool p(threads);
      std::vector<float> y(M * N);
      run(k::KernelSet::Amx, x.data(), K, M, bw.w, nullptr, y.data(), N, p);
      ASSERT_TRUE(same_bits(all, y)) << "K=" << K << " threads=" << threads;
    }
    // A subset of rows, unordered and repeated, equals those columns.
    const std::vector<int32_t> rows = {149, 5, 2, 2, 0, 77, 5, 42, 43, 1, 16, 17, 18, 19, 20, 21, 22,
                                       23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33};
    const size_t R = rows.size();
    std::vector<float> yr(M * R);
    {
      SetInScope s(k::KernelSet::Amx);
      k::matmul_rows(x.data(), K, M, bw.w, rows.data(), R, yr.data(), R, p2);
    }
    for (size_t m = 0; m < M; ++m)
      for (size_t j = 0; j < R; ++j)
        ASSERT_EQ(std::memcmp(&yr[m * R + j], &all[m * N + rows[j]], 4), 0)
            << "K=" << K << " m=" << m << " row " << rows[j] << ": " << yr[m * R + j] << " vs " << all[m * N + rows[j]];
  }
}

// The gated MLP step on the tile unit gates the accumulators as they are
// written out: the same bits as the two AMX matmuls followed by the gate
// kernel, across several x chunks (200 rows), K blocks (K = 4200), partial
// weight tiles (N = 150), both activations, both precisions and any thread
// count.
TEST(KernelAmx, GatedMlpEqualsMatmulsThenGate) {
  NEED_AMX();
  const size_t N = 150;
  for (size_t K : {64, 4200})
    for (size_t M : {1, 37, 200}) {
      auto wg = make_weight(N, K, 41), wu = make_weight(N, K, 42);
      const k::Weight &g = wg.w, &u = wu.w;
      auto x = rand_floats(M * K, 43, -3.0f, 3.0f);
      for (Precision prec : {Precision::Exact, Precision::Bf16})
        for (k::GateAct act : {k::GateAct::SiLU, k::GateAct::GeluTanh}) {
          ThreadPool p2(2);
          p2.set_precision(prec);
          std::vector<float> want(M * N), up(M * N);
          run(k::KernelSet::Amx, x.data(), K, M, g, nullptr, want.data(), N, p2);
          run(k::KernelSet::Amx, x.data(), K, M, u, nullptr, up.data(), N, p2);
          {
            SetInScope s(k::KernelSet::Amx);
            if (act == k::GateAct::SiLU) k::silu_mul(want.data(), up.data(), M * N);
            else k::gelu_tanh_mul(want.data(), up.data(), M * N);
          }
          for (size_t threads : {1, 2, 3}) {
            ThreadPool p(threads);
            p.set_precision(prec);
            std::vector<float> y(M * N, -1.0f), scratch(M * N);
            {
              SetInScope s(k::KernelSet::Amx);
              k::gated_mlp(x.data(), K, M, g, u, act, y.data(), scratch.data(), N, p);
            }
            ASSERT_TRUE(same_bits(want, y)) << "K=" << K << " M=" << M << " threads=" << threads
                                            << (prec == Precision::Bf16 ? " bf16" : " exact")
                                            << (act == k::GateAct::SiLU ? " silu" : " gelu");
          }
        }
    }
}

// The opt-in bf16 precision rounds x to bf16: deterministic like the exact
// mode, but its error is that of bf16 inputs, far outside float32 rounding.
TEST(KernelAmx, Bf16PrecisionIsCoarserAndDeterministic) {
  NEED_AMX();
  const size_t M = 20, N = 64, K = 512;
  auto bw = make_weight(N, K, 31);
  auto x = rand_floats(M * K, 32);
  ThreadPool fast(2), fast1(1), exact(2);
  fast.set_precision(Precision::Bf16);
  fast1.set_precision(Precision::Bf16);
  std::vector<float> yf(M * N), yf1(M * N), ye(M * N), y_one(N);
  run(k::KernelSet::Amx, x.data(), K, M, bw.w, nullptr, yf.data(), N, fast);
  run(k::KernelSet::Amx, x.data(), K, M, bw.w, nullptr, yf1.data(), N, fast1);
  run(k::KernelSet::Amx, x.data(), K, M, bw.w, nullptr, ye.data(), N, exact);
  EXPECT_TRUE(same_bits(yf, yf1));
  run(k::KernelSet::Amx, x.data() + 7 * K, K, 1, bw.w, nullptr, y_one.data(), N, fast);
  EXPECT_EQ(std::memcmp(y_one.data(), yf.data() + 7 * N, N * 4), 0);
  const double exact_err = check_accuracy(x, M, K, bw, ye, "exact");
  const double fast_err = check_accuracy(x, M, K, bw, yf, "bf16", false);
  EXPECT_GT(fast_err, 1e-4) << "bf16 rounding of x should show";
  EXPECT_LT(fast_err, 1e-2);
  EXPECT_LT(exact_err * 100, fast_err);
  // Other sets ignore the precision: still the reference's bits.
  std::vector<float> ya(M * N), yr(M * N);
  run(k::KernelSet::Avx512, x.data(), K, M, bw.w, nullptr, ya.data(), N, fast);
  run(k::KernelSet::Ref, x.data(), K, M, bw.w, nullptr, yr.data(), N, exact);
  if (k::avx512_supported()) {
    EXPECT_TRUE(same_bits(ya, yr));
  }
}

// F16 and F32 weights are not exact in bf16: the AMX set leaves them to the
// AVX-512 code, bit for bit.
TEST(KernelAmx, NonBf16WeightsStayOnFma) {
  NEED_AMX();
  ThreadPool pool(2);
  const size_t M = 9, N = 33, K = 70;
  auto wf = rand_floats(N * K, 41);
  k::Weight w{wf.data(), k::WType::F32, N, K};
  auto x = rand_floats(M * K, 42);
  std::vector<float> ya(M * N), yr(M * N);
  run(k::KernelSet::Amx, x.data(), K, M, w, nullptr, ya.data(), N, pool);
  run(k::KernelSet::Ref, x.data(), K, M, w, nullptr, yr.data(), N, pool);
  EXPECT_TRUE(same_bits(ya, yr));
}

// Whole forwards on the AMX set: bitwise equal however the items are batched
// and with 1 or 2 threads; within float32 rounding of the reference set.
TEST(KernelAmx, ModelForwardBatchThreadsAndReference) {
  NEED_AMX();
  for (const char* name : {"qwen2-tied-bf16", "qwen3-tied-bf16-hd32", "qwen2-untied-f16"}) {
    auto logits = [&](k::KernelSet set, size_t threads, bool batched) {
      SetInScope sel(set);
      auto m = cloze::Model::load(std::string(CLOZE_FIXTURES) + "/models/" + name, {.threads = threads});
      const size_t V = m->config().vocab_size;
      std::vector<int32_t> a(37), b(9);
      for (size_t i = 0; i < a.size(); ++i) a[i] = int32_t((i * 37 + 5) % V);
      for (size_t i = 0; i < b.size(); ++i) b[i] = int32_t((i * 11 + 1) % V);
      std::vector<float> out;
      cloze::RunContext ctx(*m);
      cloze::KVCache ca(*m), cb(*m);
      cloze::ForwardItem items[] = {{&ca, a, cloze::Outputs::All}, {&cb, b, cloze::Outputs::All}};
      if (batched) {
        for (auto& r : ctx.forward(items)) out.insert(out.end(), r.logits.begin(), r.logits.end());
      } else {
        for (auto& it : items)
          for (auto& r : ctx.forward({&it, 1})) out.insert(out.end(), r.logits.begin(), r.logits.end());
      }
      return out;
    };
    const auto base = logits(k::KernelSet::Amx, 2, true);
    EXPECT_TRUE(same_bits(base, logits(k::KernelSet::Amx, 2, false))) << name << " batched vs single";
    EXPECT_TRUE(same_bits(base, logits(k::KernelSet::Amx, 1, true))) << name << " 1 vs 2 threads";
    const auto ref = logits(k::KernelSet::Ref, 2, true);
    ASSERT_EQ(ref.size(), base.size());
    double worst = 0;
    for (size_t i = 0; i < ref.size(); ++i) worst = std::max(worst, std::fabs(double(ref[i]) - double(base[i])));
    EXPECT_LT(worst, 1e-4) << name << ": amx vs ref";
  }
}

// LoadOptions::precision reaches every RunContext made on the model (the pool
// it makes carries it): bf16 forwards differ from exact ones on AMX, stay near
// them, and two contexts of one bf16 model give the same bits.
TEST(KernelAmx, ModelPrecisionReachesRunContexts) {
  const std::string dir = std::string(CLOZE_FIXTURES) + "/models/qwen2-tied-bf16";
  auto exact = cloze::Model::load(dir, {.threads = 2});
  auto fast = cloze::Model::load(dir, {.threads = 2, .precision = Precision::Bf16});
  EXPECT_EQ(exact->precision(), Precision::Exact);
  EXPECT_EQ(fast->precision(), Precision::Bf16);
  EXPECT_EQ(cloze::RunContext(*exact).precision(), Precision::Exact);
  EXPECT_EQ(cloze::RunContext(*fast, 1).precision(), Precision::Bf16);
  NEED_AMX();
  SetInScope sel(k::KernelSet::Amx);
  std::vector<int32_t> ids(23);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = int32_t((i * 37 + 5) % exact->config().vocab_size);
  auto logits = [&](const cloze::Model& m, size_t threads) {
    cloze::RunContext ctx(m, threads);
    cloze::KVCache cache(m);
    cloze::ForwardItem item{&cache, ids, cloze::Outputs::All};
    return ctx.forward({&item, 1})[0].logits;
  };
  const auto e = logits(*exact, 2), f = logits(*fast, 2);
  ASSERT_EQ(e.size(), f.size());
  EXPECT_FALSE(same_bits(e, f)) << "bf16 precision did not reach the matmuls";
  EXPECT_TRUE(same_bits(f, logits(*fast, 1))) << "bf16: 1 vs 2 threads";
  double worst = 0;
  for (size_t i = 0; i < e.size(); ++i) worst = std::max(worst, std::fabs(double(e[i]) - double(f[i])));
  EXPECT_LT(worst, 0.1) << "bf16 vs exact";
}

// A kernel set name the CPU cannot run, or an unknown one, is an error at
// model load that names the variable, not a silent fallback; --precision
// takes exact or bf16 only; bench reports the set and the precision.
TEST(KernelAmx, CliKernelsAndPrecision) {
  const std::string model = std::string(CLOZE_FIXTURES) + "/models/qwen2-tied-bf16";
  const std::string bin = CLOZE_BIN;
  auto r = cloze::test::run_command("CLOZE_KERNELS=sse9 " + bin + " logits --model " + model + " --ids 1,2 2>&1");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("CLOZE_KERNELS=sse9: unknown kernel set"), std::string::npos) << r.out;
  if (!k::amx_supported()) {
    r = cloze::test::run_command("CLOZE_KERNELS=amx " + bin + " logits --model " + model + " --ids 1,2 2>&1");
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.out.find("CLOZE_KERNELS=amx: this CPU cannot run"), std::string::npos) << r.out;
  }
  r = cloze::test::run_command(bin + " bench --model " + model + " --precision fp8 2>&1");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("--precision: \"fp8\" is not a precision (use exact or bf16)"), std::string::npos) << r.out;
  for (const char* p : {"exact", "bf16"}) {
    r = cloze::test::run_command(bin + " bench --model " + model + " --lengths 8 --repeats 1 --decode-tokens 0 --texts 0 --json --precision " + p);
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find(std::string("\"precision\":\"") + p + "\""), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(std::string("\"kernels\":\"") + k::kernel_set() + "\""), std::string::npos) << r.out;
  }
}
