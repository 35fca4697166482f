// Optimized kernels vs the scalar reference (bitwise), plus batch, split and
// thread-count invariance. Mismatches print the max abs difference.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "cloze/model.h"
#include "kernels/exp_approx.h"
#include "test_util.h"
#include "kernels/kernels_internal.h"

namespace k = cloze::kernels;
using cloze::ThreadPool;

namespace {

#define NEED_AVX2() \
  if (!k::avx2_supported()) GTEST_SKIP() << "CPU lacks AVX2/FMA/F16C"

// Selects set `s` for the public kernels while in scope.
struct KernelsSelected {
  explicit KernelsSelected(k::KernelSet s) : before(k::kernels_in_use()) { k::force_kernels(s); }
  ~KernelsSelected() { k::force_kernels(before); }
  k::KernelSet before;
};

// Every optimized matmul this CPU can run (through the public, threaded
// entry points), each checked against the reference set.
struct MatmulSet {
  const char* name;
  k::KernelSet set;
  template <class... A>
  void matmul(A&&... a) const {
    KernelsSelected sel(set);
    k::matmul(std::forward<A>(a)...);
  }
  template <class... A>
  void matmul_rows(A&&... a) const {
    KernelsSelected sel(set);
    k::matmul_rows(std::forward<A>(a)...);
  }
};
const MatmulSet kRefMatmul{"ref", k::KernelSet::Ref};
std::vector<MatmulSet> fast_matmuls() {
  std::vector<MatmulSet> s;
  if (k::avx2_supported()) s.push_back({"avx2", k::KernelSet::Avx2});
  if (k::avx512_supported()) s.push_back({"avx512", k::KernelSet::Avx512});
  return s;
}
#define NEED_FAST_MATMUL() \
  if (fast_matmuls().empty()) GTEST_SKIP() << "no optimized matmul on this CPU"

std::vector<float> rand_floats(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Exact bf16 test data: a float with its low 16 bits cleared is a bf16 value.
uint16_t to_bf16_trunc(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return uint16_t(u >> 16);
}

// Exact f16 test data: random sign, exponent and mantissa bits, magnitudes
// about 2^-6..2^2, with one in 64 a subnormal and one in 64 a signed zero.
uint16_t rand_f16(std::mt19937& rng) {
  uint32_t r = rng();
  uint16_t sign = uint16_t((r & 1) << 15), man = uint16_t((r >> 1) & 0x3ff);
  uint32_t kind = (r >> 11) & 63;
  if (kind == 0) return uint16_t(sign | man);  // subnormal (or zero when man == 0)
  if (kind == 1) return sign;
  uint16_t exp = uint16_t(9 + (r >> 17) % 8);
  return uint16_t(sign | exp << 10 | man);
}

// A weight matrix [N, K] of the given type with its storage.
struct TestWeight {
  std::vector<float> f32;
  std::vector<uint16_t> half;
  k::Weight w;
};

TestWeight make_weight(k::WType t, size_t N, size_t K, uint32_t seed) {
  TestWeight tw;
  tw.w.type = t;
  tw.w.rows = N;
  tw.w.cols = K;
  if (t == k::WType::F32) {
    tw.f32 = rand_floats(N * K, seed);
    tw.w.data = tw.f32.data();
  } else if (t == k::WType::BF16) {
    auto f = rand_floats(N * K, seed);
    tw.half.resize(N * K);
    for (size_t i = 0; i < f.size(); ++i) tw.half[i] = to_bf16_trunc(f[i]);
    tw.w.data = tw.half.data();
  } else {
    std::mt19937 rng(seed);
    tw.half.resize(N * K);
    for (auto& h : tw.half) h = rand_f16(rng);
    tw.w.data = tw.half.data();
  }
  return tw;
}

const char* type_name(k::WType t) {
  return t == k::WType::F32 ? "f32" : t == k::WType::F16 ? "f16" : "bf16";
}

// Bitwise comparison of two [rows, cols] float blocks (strides la, lb).
::testing::AssertionResult bitwise_equal(const float* a, size_t la, const float* b, size_t lb,
                                         size_t rows, size_t cols) {
  size_t bad = 0, first_r = 0, first_c = 0;
  double maxdiff = 0;
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < cols; ++c) {
      float x = a[r * la + c], y = b[r * lb + c];
      if (std::memcmp(&x, &y, 4) != 0) {
        if (bad++ == 0) first_r = r, first_c = c;
        maxdiff = std::max(maxdiff, std::fabs(double(x) - double(y)));
      }
    }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << bad << " of " << rows * cols << " differ, first at [" << first_r << ", " << first_c
         << "]: " << a[first_r * la + first_c] << " vs " << b[first_r * lb + first_c]
         << ", max abs diff " << maxdiff;
}

struct MMCase {
  size_t M, N, K;
};

// Awkward sizes: K not a multiple of 8 or 16, K past the blocking thresholds
// (AVX2 1280/1024, AVX-512 1280/640), N not a multiple of the 4/6/8/16-row
// tiles or odd (AVX-512 row pairs), M across the direct (<= 4) and panel
// paths, the 3- and 6-row tiles, 48-row block and 240/288-row x block edges.
const MMCase kCases[] = {{1, 1, 1},      {1, 9, 7},      {2, 13, 8},     {3, 7, 13},
                         {4, 70, 33},    {5, 67, 100},   {17, 5, 64},    {1, 130, 1100},
                         {2, 61, 2053},  {49, 70, 1030}, {130, 130, 96}, {50, 131, 2053},
                         {4, 256, 896},  {16, 128, 896}, {6, 9, 17},     {7, 17, 1281},
                         {13, 33, 640},  {12, 8, 8},     {1, 17, 4864},  {3, 31, 15},
                         {97, 15, 4864}, {20, 65, 1919}, {300, 20, 896}, {250, 9, 4864}};

}  // namespace

TEST(KernelDispatch, ForceReferenceSwitchesSet) {
  k::force_reference(true);
  EXPECT_STREQ(k::kernel_set(), "ref");
  k::force_reference(false);
  EXPECT_STREQ(k::kernel_set(), k::amx_supported()      ? "amx"
                                : k::avx512_supported() ? "avx512"
                                : k::avx2_supported()   ? "avx2"
                                                        : "ref");
  // A set the CPU lacks falls back to the best one below it.
  k::KernelSet got = k::force_kernels(k::KernelSet::Avx2);
  EXPECT_EQ(got, k::avx2_supported() ? k::KernelSet::Avx2 : k::KernelSet::Ref);
  EXPECT_TRUE(k::supported(got));
  k::force_reference(false);
}

TEST(KernelExp, CloseToLibm) {
  double worst = 0;
  for (float x = -87.0f; x <= 88.0f; x += 0.0137f) {
    double rel = std::fabs(double(k::exp_approx(x)) - std::exp(double(x))) / std::exp(double(x));
    worst = std::max(worst, rel);
  }
  EXPECT_LT(worst, 3e-7) << "max relative error " << worst;
  EXPECT_EQ(k::exp_approx(0.0f), 1.0f);
  EXPECT_EQ(k::exp_approx(-1000.0f), 0.0f);
  EXPECT_TRUE(std::isfinite(k::exp_approx(1000.0f)));
}

TEST(KernelMatmul, MatchesReferenceAllTypes) {
  NEED_FAST_MATMUL();
  ThreadPool pool(2);
  for (const MatmulSet& set : fast_matmuls()) {
  uint32_t seed = 1;
  for (k::WType t : {k::WType::F32, k::WType::F16, k::WType::BF16})
    for (const MMCase& c : kCases)
      for (bool with_bias : {false, true}) {
        const size_t ldx = c.K + 3, ldy = c.N + 5;  // strides wider than the data
        auto tw = make_weight(t, c.N, c.K, seed++);
        auto x = rand_floats(c.M * ldx, seed++);
        auto bias = rand_floats(c.N, seed++);
        std::vector<float> y_ref(c.M * ldy, -7.0f), y_opt(c.M * ldy, -7.0f);
        const float* b = with_bias ? bias.data() : nullptr;
        kRefMatmul.matmul(x.data(), ldx, c.M, tw.w, b, y_ref.data(), ldy, pool);
        set.matmul(x.data(), ldx, c.M, tw.w, b, y_opt.data(), ldy, pool);
        EXPECT_TRUE(bitwise_equal(y_ref.data(), ldy, y_opt.data(), ldy, c.M, c.N))
            << set.name << " " << type_name(t) << " M=" << c.M << " N=" << c.N << " K=" << c.K
            << " bias=" << with_bias;
        // The padding between rows is never written.
        for (size_t m = 0; m < c.M; ++m)
          for (size_t n = c.N; n < ldy; ++n) ASSERT_EQ(y_opt[m * ldy + n], -7.0f) << set.name;
      }
  }
}

TEST(KernelMatmul, RowsSubsetUnorderedAndRepeated) {
  NEED_FAST_MATMUL();
  ThreadPool pool(2);
  for (const MatmulSet& set : fast_matmuls())
  for (k::WType t : {k::WType::F32, k::WType::F16, k::WType::BF16})
    for (size_t M : {1, 3, 7, 60})
      for (size_t K : {13, 896}) {
        const size_t N = 300;
        auto tw = make_weight(t, N, K, 11);
        auto x = rand_floats(M * K, 12);
        std::vector<int32_t> rows = {299, 5, 2, 2, 0, 177, 5, 42, 43, 1};
        const size_t R = rows.size();
        std::vector<float> y_ref(M * R), y_opt(M * R), y_full(M * N);
        kRefMatmul.matmul_rows(x.data(), K, M, tw.w, rows.data(), R, y_ref.data(), R, pool);
        set.matmul_rows(x.data(), K, M, tw.w, rows.data(), R, y_opt.data(), R, pool);
        EXPECT_TRUE(bitwise_equal(y_ref.data(), R, y_opt.data(), R, M, R))
            << set.name << " " << type_name(t) << " M=" << M << " K=" << K;
        // Same values as the matching columns of the full product.
        set.matmul(x.data(), K, M, tw.w, nullptr, y_full.data(), N, pool);
        for (size_t j = 0; j < R; ++j)
          EXPECT_TRUE(bitwise_equal(y_full.data() + rows[j], N, y_opt.data() + j, R, M, 1))
              << set.name << " " << type_name(t) << " row " << rows[j];
      }
}

TEST(KernelMatmul, BatchInvariance) {
  NEED_FAST_MATMUL();
  ThreadPool pool(2);
  for (const MatmulSet& set : fast_matmuls())
  for (k::WType t : {k::WType::F32, k::WType::BF16})
    for (size_t K : {896, 2053}) {
      const size_t M = 130, N = 70;
      auto tw = make_weight(t, N, K, 21);
      auto x = rand_floats(M * K, 22);
      std::vector<float> y_all(M * N);
      set.matmul(x.data(), K, M, tw.w, nullptr, y_all.data(), N, pool);
      // The same rows computed alone, and in sub-batches of every size 2..13
      // starting at every offset modulo the 6-row tile.
      for (size_t m = 0; m < M; m += 7) {
        std::vector<float> y1(N);
        set.matmul(x.data() + m * K, K, 1, tw.w, nullptr, y1.data(), N, pool);
        ASSERT_TRUE(bitwise_equal(y_all.data() + m * N, N, y1.data(), N, 1, N))
            << set.name << " " << type_name(t) << " K=" << K << " row " << m << " alone";
      }
      for (size_t len = 2; len <= 13; ++len)
        for (size_t off = 0; off < 6; ++off) {
          size_t m0 = 40 + off;
          std::vector<float> yb(len * N);
          set.matmul(x.data() + m0 * K, K, len, tw.w, nullptr, yb.data(), N, pool);
          ASSERT_TRUE(bitwise_equal(y_all.data() + m0 * N, N, yb.data(), N, len, N))
              << set.name << " " << type_name(t) << " K=" << K << " batch of " << len << " at "
              << m0;
        }
    }
}

TEST(KernelMatmul, ThreadCountInvariance) {
  NEED_FAST_MATMUL();
  for (const MatmulSet& set : fast_matmuls())
  for (size_t M : {1, 3, 40})
    for (k::WType t : {k::WType::F16, k::WType::BF16}) {
      const size_t N = 203, K = 1100;
      auto tw = make_weight(t, N, K, 31);
      auto x = rand_floats(M * K, 32);
      std::vector<float> y1(M * N);
      {
        ThreadPool p1(1);
        set.matmul(x.data(), K, M, tw.w, nullptr, y1.data(), N, p1);
      }
      for (size_t threads : {2, 3}) {
        ThreadPool p(threads);
        std::vector<float> y(M * N);
        set.matmul(x.data(), K, M, tw.w, nullptr, y.data(), N, p);
        EXPECT_TRUE(bitwise_equal(y1.data(), N, y.data(), N, M, N))
            << set.name << " " << type_name(t) << " M=" << M << " threads=" << threads;
      }
    }
}

// All sets this CPU runs, the reference first (amx included: the tests
// that use this compare results within one set).
std::vector<MatmulSet> every_matmul() {
  std::vector<MatmulSet> s{kRefMatmul};
  for (const MatmulSet& f : fast_matmuls()) s.push_back(f);
  if (k::amx_supported()) s.push_back({"amx", k::KernelSet::Amx});
  return s;
}

// q/k/v-like targets of different heights in one step equal three matmuls,
// bit for bit, for every set, batch size and thread count.
TEST(KernelMatmul, MultiEqualsSeparateMatmuls) {
  const size_t K = 203;
  auto wq = make_weight(k::WType::BF16, 70, K, 51);
  auto wk = make_weight(k::WType::BF16, 24, K, 52);
  auto wv = make_weight(k::WType::F32, 17, K, 53);
  auto bq = rand_floats(70, 54), bk = rand_floats(24, 55);
  for (const MatmulSet& set : every_matmul())
    for (size_t M : {1, 3, 16, 40})
      for (size_t threads : {1, 2, 3}) {
        ThreadPool pool(threads);
        auto x = rand_floats(M * K, 56);
        std::vector<float> q1(M * 70), k1(M * 24), v1(M * 17), q2(M * 80), k2(M * 24), v2(M * 17);
        set.matmul(x.data(), K, M, wq.w, bq.data(), q1.data(), 70, pool);
        set.matmul(x.data(), K, M, wk.w, bk.data(), k1.data(), 24, pool);
        set.matmul(x.data(), K, M, wv.w, nullptr, v1.data(), 17, pool);
        const k::MatmulTarget t[] = {{&wq.w, bq.data(), q2.data(), 80},
                                     {&wk.w, bk.data(), k2.data(), 24},
                                     {&wv.w, nullptr, v2.data(), 17}};
        {
          KernelsSelected sel(set.set);
          k::matmul_multi(x.data(), K, M, t, 3, pool);
        }
        const std::string what = std::string(set.name) + " M=" + std::to_string(M) +
                                 " threads=" + std::to_string(threads);
        EXPECT_TRUE(bitwise_equal(q1.data(), 70, q2.data(), 80, M, 70)) << what << " q";
        EXPECT_TRUE(bitwise_equal(k1.data(), 24, k2.data(), 24, M, 24)) << what << " k";
        EXPECT_TRUE(bitwise_equal(v1.data(), 17, v2.data(), 17, M, 17)) << what << " v";
      }
}

// The fused SwiGLU step equals gate and up matmuls followed by silu_mul.
TEST(KernelSwiglu, EqualsMatmulsThenSiluMul) {
  const size_t N = 203, K = 130;
  auto wg = make_weight(k::WType::BF16, N, K, 61);
  auto wu = make_weight(k::WType::BF16, N, K, 62);
  for (const MatmulSet& set : every_matmul())
    for (size_t M : {1, 4, 16, 50})
      for (size_t threads : {1, 2, 3}) {
        ThreadPool pool(threads);
        auto x = rand_floats(M * K, 63, -3.0f, 3.0f);
        std::vector<float> g1(M * N), u1(M * N), g2(M * N), u2(M * N);
        set.matmul(x.data(), K, M, wg.w, nullptr, g1.data(), N, pool);
        set.matmul(x.data(), K, M, wu.w, nullptr, u1.data(), N, pool);
        {
          KernelsSelected sel(set.set);
          k::silu_mul(g1.data(), u1.data(), M * N);
          k::swiglu(x.data(), K, M, wg.w, wu.w, g2.data(), u2.data(), N, pool);
        }
        EXPECT_TRUE(bitwise_equal(g1.data(), N, g2.data(), N, M, N))
            << set.name << " M=" << M << " threads=" << threads;
      }
}

TEST(KernelMatmul, PublicEntryMatchesEverySet) {
  ThreadPool pool(2);
  const size_t M = 6, N = 19, K = 45;
  auto tw = make_weight(k::WType::BF16, N, K, 41);
  auto x = rand_floats(M * K, 42);
  std::vector<float> ya(M * N), yb(M * N);
  k::force_reference(true);
  k::matmul(x.data(), K, M, tw.w, nullptr, ya.data(), N, pool);
  for (k::KernelSet s : {k::KernelSet::Avx2, k::KernelSet::Avx512}) {
    if (!k::supported(s)) continue;
    ASSERT_EQ(k::force_kernels(s), s);
    k::matmul(x.data(), K, M, tw.w, nullptr, yb.data(), N, pool);
    EXPECT_TRUE(bitwise_equal(ya.data(), N, yb.data(), N, M, N)) << k::kernel_set();
  }
  k::force_reference(false);
}

TEST(KernelRmsnorm, MatchesReference) {
  NEED_AVX2();
  for (size_t n : {1, 7, 8, 13, 896, 1001})
    for (size_t M : {1, 3}) {
      const size_t ld = n + 2;
      auto x = rand_floats(M * ld, uint32_t(n + M), -3.0f, 3.0f);
      auto w = rand_floats(n, 7);
      std::vector<float> a(M * ld, 0), b(M * ld, 0);
      k::ref::rmsnorm(x.data(), ld, M, n, w.data(), 1e-6f, a.data(), ld);
      k::avx2::rmsnorm(x.data(), ld, M, n, w.data(), 1e-6f, b.data(), ld);
      EXPECT_TRUE(bitwise_equal(a.data(), ld, b.data(), ld, M, n)) << "n=" << n << " M=" << M;
      std::vector<float> c = x;  // in place (x and y alias)
      k::avx2::rmsnorm(c.data(), ld, M, n, w.data(), 1e-6f, c.data(), ld);
      EXPECT_TRUE(bitwise_equal(a.data(), ld, c.data(), ld, M, n)) << "aliased n=" << n;
    }
}

TEST(KernelRope, MatchesReference) {
  NEED_AVX2();
  for (size_t hd : {8, 12, 32, 64, 128}) {
    const size_t M = 5, H = 3, ld = H * hd + 4;
    std::vector<float> inv(hd / 2);
    for (size_t i = 0; i < hd / 2; ++i) inv[i] = std::pow(1e6f, -2.0f * float(i) / float(hd));
    std::vector<int32_t> pos = {0, 1, 17, 500, 4095};
    auto a = rand_floats(M * ld, uint32_t(hd));
    auto b = a;
    k::ref::rope(a.data(), ld, M, H, hd, pos.data(), inv.data());
    k::avx2::rope(b.data(), ld, M, H, hd, pos.data(), inv.data());
    EXPECT_TRUE(bitwise_equal(a.data(), ld, b.data(), ld, M, ld)) << "head_dim=" << hd;
  }
}

TEST(KernelRope, TablesMatchPerRowReference) {
  // rope_table once + rope_apply (what the model does) equals ref::rope, which
  // computes cos/sin for every row, in every set.
  for (size_t hd : {8, 12, 64}) {
    const size_t M = 6, H = 2, ld = H * hd + 1;
    std::vector<float> inv(hd / 2);
    for (size_t i = 0; i < hd / 2; ++i) inv[i] = std::pow(1e6f, -2.0f * float(i) / float(hd));
    std::vector<int32_t> pos = {0, 3, 3, 77, 1000, 32767};
    auto a = rand_floats(M * ld, uint32_t(hd + 5));
    auto b = a, c = a;
    k::ref::rope(a.data(), ld, M, H, hd, pos.data(), inv.data());
    std::vector<float> cs(M * hd);
    k::rope_table(pos.data(), M, inv.data(), hd, cs.data());
    k::ref::rope_apply(b.data(), ld, M, H, hd, cs.data());
    EXPECT_TRUE(bitwise_equal(a.data(), ld, b.data(), ld, M, ld)) << "ref head_dim=" << hd;
    if (!k::avx2_supported()) continue;
    k::avx2::rope_apply(c.data(), ld, M, H, hd, cs.data());
    EXPECT_TRUE(bitwise_equal(a.data(), ld, c.data(), ld, M, ld)) << "avx2 head_dim=" << hd;
  }
}

TEST(KernelSumExp, MatchesReferenceAndDouble) {
  NEED_AVX2();
  for (size_t n : {0, 1, 7, 8, 15, 16, 17, 1023, 1024, 1025, 5000, 151936}) {
    auto x = rand_floats(n, uint32_t(n + 3), -30.0f, 12.0f);
    if (n > 2) x[n / 2] = -1e30f;  // exp underflows to 0
    const float mr = k::ref::max_value(x.data(), n), ma = k::avx2::max_value(x.data(), n);
    EXPECT_EQ(std::memcmp(&mr, &ma, 4), 0) << "max n=" << n;
    double m = -INFINITY;
    for (float v : x) m = std::max(m, double(v));
    EXPECT_EQ(double(mr), m);
    const float shift = n ? mr : 0.0f;
    const double sr = k::ref::sum_exp(x.data(), n, shift), sa = k::avx2::sum_exp(x.data(), n, shift);
    EXPECT_EQ(std::memcmp(&sr, &sa, 8), 0) << "sum_exp n=" << n << ": " << sr << " vs " << sa;
    double exact = 0;
    for (float v : x) exact += std::exp(double(v) - double(shift));
    EXPECT_NEAR(sr, exact, 1e-6 * std::max(1.0, exact)) << "n=" << n;
  }
}

TEST(KernelSiluMul, MatchesReference) {
  NEED_AVX2();
  for (size_t n : {1, 5, 8, 29, 4864, 200000}) {
    auto g = rand_floats(n, uint32_t(n), -90.0f, 90.0f);
    auto u = rand_floats(n, uint32_t(n + 1));
    if (n > 3) g[0] = 100.0f, g[1] = -100.0f, g[2] = 0.0f, g[3] = -0.0f;
    auto a = g, b = g;
    k::ref::silu_mul(a.data(), u.data(), n);
    k::avx2::silu_mul(b.data(), u.data(), n);
    EXPECT_TRUE(bitwise_equal(a.data(), n, b.data(), n, 1, n)) << "n=" << n;
    if (k::avx512_supported()) {
      auto c = g;
      k::avx512::silu_mul(c.data(), u.data(), n);
      EXPECT_TRUE(bitwise_equal(a.data(), n, c.data(), n, 1, n)) << "avx512 n=" << n;
    }
  }
}

namespace {

// A sequence's K/V rows [L, ld] cut into segments at the given lengths.
struct KV {
  size_t L, ld;
  std::vector<float> k, v;
  KV(size_t L_, size_t ld_, uint32_t seed)
      : L(L_), ld(ld_), k(rand_floats(L_ * ld_, seed)), v(rand_floats(L_ * ld_, seed + 1)) {}
  // Segments covering positions [0, upto), cut at `cuts` (increasing).
  std::vector<k::KVSegment> segs(std::vector<size_t> cuts, size_t upto) const {
    std::vector<k::KVSegment> out;
    size_t b = 0;
    cuts.push_back(upto);
    for (size_t c : cuts) {
      if (c <= b || b >= upto) continue;
      c = std::min(c, upto);
      out.push_back({k.data() + b * ld, v.data() + b * ld, c - b, ld});
      b = c;
    }
    return out;
  }
};

// Double-precision textbook attention for one (t, h): a check of the
// reference itself (tolerance, not bitwise).
void naive_attention(const float* qv, const KV& kv, size_t visible, size_t kvh, size_t hd,
                     float scale, double* o) {
  std::vector<double> s(visible);
  double mx = -1e300, sum = 0;
  for (size_t p = 0; p < visible; ++p) {
    double d = 0;
    for (size_t j = 0; j < hd; ++j) d += double(qv[j]) * kv.k[p * kv.ld + kvh * hd + j];
    s[p] = d * scale;
    mx = std::max(mx, s[p]);
  }
  for (auto& e : s) sum += (e = std::exp(e - mx));
  for (size_t j = 0; j < hd; ++j) {
    o[j] = 0;
    for (size_t p = 0; p < visible; ++p) o[j] += s[p] / sum * kv.v[p * kv.ld + kvh * hd + j];
  }
}

}  // namespace

TEST(KernelAttention, MatchesReferenceAndTextbook) {
  NEED_AVX2();
  ThreadPool pool(2);
  struct Case {
    size_t heads, kv_heads, hd, L, T;
    std::vector<size_t> cuts;
  };
  const Case cases[] = {
      {2, 2, 8, 1, 1, {}},            {4, 2, 64, 9, 9, {}},         {14, 2, 64, 40, 1, {30}},
      {14, 2, 64, 77, 37, {20, 40}},  {7, 1, 32, 130, 130, {}},    {3, 3, 16, 21, 5, {3, 16}},
      {14, 2, 64, 300, 100, {128, 200}}, {2, 1, 64, 600, 600, {}},
  };
  for (const Case& c : cases) {
    const size_t ldq = c.heads * c.hd + 3, ldkv = c.kv_heads * c.hd + 5;
    KV kv(c.L, ldkv, 51);
    auto q = rand_floats(c.T * ldq, 52, -2.0f, 2.0f);
    auto segs = kv.segs(c.cuts, c.L);
    const float scale = 1.0f / std::sqrt(float(c.hd));
    std::vector<float> a(c.T * ldq, 0), b(c.T * ldq, 0);
    k::ref::attention(q.data(), ldq, c.T, segs.data(), segs.size(), c.heads, c.kv_heads, c.hd,
                      scale, a.data(), ldq, pool);
    k::avx2::attention(q.data(), ldq, c.T, segs.data(), segs.size(), c.heads, c.kv_heads, c.hd,
                       scale, b.data(), ldq, pool);
    EXPECT_TRUE(bitwise_equal(a.data(), ldq, b.data(), ldq, c.T, c.heads * c.hd))
        << "heads=" << c.heads << "/" << c.kv_heads << " hd=" << c.hd << " L=" << c.L
        << " T=" << c.T << " segs=" << segs.size();
    if (k::avx512_supported() && c.hd % 16 == 0) {
      std::vector<float> w(c.T * ldq, 0);
      k::avx512::attention_opts(q.data(), ldq, c.T, segs.data(), segs.size(), c.heads, c.kv_heads, c.hd,
                                k::AttentionOpts{.scale = scale}, w.data(), ldq, pool);
      EXPECT_TRUE(bitwise_equal(a.data(), ldq, w.data(), ldq, c.T, c.heads * c.hd))
          << "avx512 heads=" << c.heads << "/" << c.kv_heads << " hd=" << c.hd << " L=" << c.L << " T=" << c.T;
    }
    double worst = 0;
    std::vector<double> o(c.hd);
    const size_t group = c.heads / c.kv_heads;
    for (size_t t = 0; t < c.T; t += std::max<size_t>(1, c.T / 7))
      for (size_t h = 0; h < c.heads; ++h) {
        naive_attention(q.data() + t * ldq + h * c.hd, kv, c.L - c.T + t + 1, h / group, c.hd,
                        scale, o.data());
        for (size_t j = 0; j < c.hd; ++j)
          worst = std::max(worst, std::fabs(o[j] - a[t * ldq + h * c.hd + j]));
      }
    EXPECT_LT(worst, 2e-5) << "reference vs textbook, L=" << c.L;
  }
}

TEST(KernelAttention, SplitAndThreadInvariance) {
  NEED_AVX2();
  const size_t H = 14, KVH = 2, hd = 64, L = 150, ld = KVH * hd;
  KV kv(L, ld, 61);
  auto q = rand_floats(L * H * hd, 62);
  const k::AttentionOpts opts{.scale = 0.125f};
  using AttnFn = void (*)(const float*, size_t, size_t, const k::KVSegment*, size_t, size_t, size_t, size_t,
                          const k::AttentionOpts&, float*, size_t, ThreadPool&);
  std::vector<std::pair<const char*, AttnFn>> sets = {{"avx2", k::avx2::attention_opts}};
  if (k::avx512_supported()) sets.push_back({"avx512", k::avx512::attention_opts});
  for (auto [name, attn] : sets) {
    // All L tokens as one prefill, 2 threads.
    std::vector<float> all(L * H * hd);
    {
      ThreadPool pool(2);
      auto segs = kv.segs({}, L);
      attn(q.data(), H * hd, L, segs.data(), segs.size(), H, KVH, hd, opts, all.data(), H * hd, pool);
    }
    // The same tokens in chunks (a cached prefix segment + the chunk's own), with
    // 1 and 3 threads, and token by token.
    for (size_t threads : {1, 3})
      for (size_t chunk : {1, 7, 64}) {
        ThreadPool pool(threads);
        std::vector<float> out(L * H * hd);
        for (size_t t0 = 0; t0 < L; t0 += chunk) {
          size_t T = std::min(chunk, L - t0);
          auto segs = kv.segs({t0}, t0 + T);
          attn(q.data() + t0 * H * hd, H * hd, T, segs.data(), segs.size(), H, KVH, hd, opts,
               out.data() + t0 * H * hd, H * hd, pool);
        }
        EXPECT_TRUE(bitwise_equal(all.data(), H * hd, out.data(), H * hd, L, H * hd))
            << name << " threads=" << threads << " chunk=" << chunk;
      }
  }
}

// The whole forward under every kernel set the CPU has: logits (all positions,
// a batch of two items, one on a shared prefix) and the streamed logsumexp
// must be bitwise equal to the reference set's.
TEST(KernelSets, ModelForwardBitwiseEverySet) {
  struct Run {
    std::vector<float> logits, rows, lse;
  };
  auto run = [](const std::string& name) {
    auto m = cloze::Model::load(std::string(CLOZE_FIXTURES) + "/models/" + name, {.threads = 2});
    cloze::RunContext ctx(*m);
    const size_t V = m->config().vocab_size;
    std::vector<int32_t> a(37), b(9), prefix(11);
    for (size_t i = 0; i < a.size(); ++i) a[i] = int32_t((i * 37 + 5) % V);
    for (size_t i = 0; i < b.size(); ++i) b[i] = int32_t((i * 11 + 1) % V);
    for (size_t i = 0; i < prefix.size(); ++i) prefix[i] = int32_t((i * 5 + 3) % V);
    auto parent = std::make_shared<cloze::KVCache>(*m);
    cloze::ForwardItem ip{parent.get(), prefix, cloze::Outputs::None};
    ctx.forward({&ip, 1});
    cloze::KVCache ca(*m), cb(*m, parent);
    cloze::ForwardItem items[] = {{&ca, a, cloze::Outputs::All}, {&cb, b, cloze::Outputs::All}};
    Run r;
    for (auto& res : ctx.forward(items)) r.logits.insert(r.logits.end(), res.logits.begin(), res.logits.end());
    cloze::KVCache cc(*m, parent);
    const std::vector<int32_t> rows = {3, int32_t(V - 1), 0};
    cloze::ForwardItem ic{&cc, a, cloze::Outputs::All};
    auto res = ctx.forward({&ic, 1}, {.rows = rows, .logsumexp = true})[0];
    r.rows = res.logits;
    r.lse = res.lse;
    return r;
  };
  for (const std::string& name : cloze::test::golden_models()) {
    k::force_reference(true);
    const Run ref = run(name);
    for (k::KernelSet set : {k::KernelSet::Avx2, k::KernelSet::Avx512}) {
      if (!k::supported(set)) continue;
      k::force_kernels(set);
      const Run got = run(name);
      ASSERT_EQ(ref.logits.size(), got.logits.size());
      ASSERT_EQ(ref.rows.size(), got.rows.size());
      ASSERT_EQ(ref.lse.size(), got.lse.size());
      EXPECT_TRUE(bitwise_equal(ref.logits.data(), 0, got.logits.data(), 0, 1, ref.logits.size()))
          << name << " " << k::kernel_set() << " logits";
      EXPECT_TRUE(bitwise_equal(ref.rows.data(), 0, got.rows.data(), 0, 1, ref.rows.size()))
          << name << " " << k::kernel_set() << " rows";
      EXPECT_TRUE(bitwise_equal(ref.lse.data(), 0, got.lse.data(), 0, 1, ref.lse.size()))
          << name << " " << k::kernel_set() << " lse";
    }
  }
  k::force_reference(false);
}

namespace {

// The textbook over positions [first, visible) with optional soft-capping.
void naive_window_attention(const float* qv, const KV& kv, size_t first, size_t visible, size_t kvh, size_t hd,
                            float scale, float cap, double* o) {
  std::vector<double> s(visible, 0.0);
  double mx = -1e300, sum = 0;
  for (size_t p = first; p < visible; ++p) {
    double d = 0;
    for (size_t j = 0; j < hd; ++j) d += double(qv[j]) * kv.k[p * kv.ld + kvh * hd + j];
    d *= scale;
    s[p] = cap > 0 ? cap * std::tanh(d / cap) : d;
    mx = std::max(mx, s[p]);
  }
  for (size_t p = first; p < visible; ++p) sum += (s[p] = std::exp(s[p] - mx));
  for (size_t j = 0; j < hd; ++j) {
    o[j] = 0;
    for (size_t p = first; p < visible; ++p) o[j] += s[p] / sum * kv.v[p * kv.ld + kvh * hd + j];
  }
}

}  // namespace

// Sliding windows and soft-capping: reference == AVX2 bit for bit, both near
// the textbook, and the same bits whether the sequence arrives at once, in
// chunks over a cached prefix, or token by token.
TEST(KernelAttention, WindowAndSoftcapMatchReferenceAndTextbook) {
  NEED_AVX2();
  struct Case {
    size_t heads, kv_heads, hd, L, T, window;
    float cap;
    std::vector<size_t> cuts;
  };
  const Case cases[] = {
      {4, 2, 16, 41, 41, 8, 50.0f, {}},   {4, 1, 16, 150, 150, 8, 0.0f, {}},  {4, 4, 16, 60, 20, 8, 0.0f, {25}},
      {2, 1, 64, 300, 100, 33, 5.0f, {128, 200}}, {3, 3, 8, 20, 1, 1, 0.0f, {}}, {8, 2, 32, 90, 90, 200, 0.0f, {}},
  };
  for (const Case& c : cases) {
    ThreadPool pool(2);
    const size_t ldq = c.heads * c.hd, ldkv = c.kv_heads * c.hd;
    KV kv(c.L, ldkv, 71);
    auto q = rand_floats(c.T * ldq, 72, -2.0f, 2.0f);
    auto segs = kv.segs(c.cuts, c.L);
    const k::AttentionOpts opts{.scale = 1.0f / std::sqrt(float(c.hd)), .softcap = c.cap, .window = c.window};
    std::vector<float> a(c.T * ldq), b(c.T * ldq);
    k::ref::attention_opts(q.data(), ldq, c.T, segs.data(), segs.size(), c.heads, c.kv_heads, c.hd, opts, a.data(),
                           ldq, pool);
    k::avx2::attention_opts(q.data(), ldq, c.T, segs.data(), segs.size(), c.heads, c.kv_heads, c.hd, opts,
                            b.data(), ldq, pool);
    EXPECT_TRUE(bitwise_equal(a.data(), ldq, b.data(), ldq, c.T, ldq)) << "L=" << c.L << " window=" << c.window;
    if (k::avx512_supported() && c.hd % 16 == 0) {
      std::vector<float> w(c.T * ldq);
      k::avx512::attention_opts(q.data(), ldq, c.T, segs.data(), segs.size(), c.heads, c.kv_heads, c.hd, opts,
                                w.data(), ldq, pool);
      EXPECT_TRUE(bitwise_equal(a.data(), ldq, w.data(), ldq, c.T, ldq))
          << "avx512 L=" << c.L << " window=" << c.window;
    }
    double worst = 0;
    std::vector<double> o(c.hd);
    for (size_t t = 0; t < c.T; ++t)
      for (size_t h = 0; h < c.heads; ++h) {
        const size_t vis = c.L - c.T + t + 1, first = vis > c.window ? vis - c.window : 0;
        naive_window_attention(q.data() + t * ldq + h * c.hd, kv, first, vis, h / (c.heads / c.kv_heads), c.hd,
                               opts.scale, c.cap, o.data());
        for (size_t j = 0; j < c.hd; ++j) worst = std::max(worst, std::fabs(o[j] - a[t * ldq + h * c.hd + j]));
      }
    EXPECT_LT(worst, 2e-5) << "reference vs textbook, L=" << c.L << " window=" << c.window;
    // Token by token over the cache: the same bits as one pass.
    if (c.T == c.L) {
      std::vector<float> one(c.T * ldq);
      for (size_t t = 0; t < c.T; ++t) {
        auto s1 = kv.segs({t}, t + 1);
        k::avx2::attention_opts(q.data() + t * ldq, ldq, 1, s1.data(), s1.size(), c.heads, c.kv_heads, c.hd, opts,
                                one.data() + t * ldq, ldq, pool);
      }
      EXPECT_TRUE(bitwise_equal(b.data(), ldq, one.data(), ldq, c.T, ldq)) << "token by token, L=" << c.L;
    }
  }
}

// The GeGLU step equals gate and up matmuls followed by gelu_tanh_mul, on
// every set; gelu_tanh_mul and softcap are near their textbook formulas.
TEST(KernelGatedMlp, GeluTanhEqualsMatmulsThenGate) {
  const size_t N = 131, K = 64;
  auto wg = make_weight(k::WType::BF16, N, K, 81);
  auto wu = make_weight(k::WType::BF16, N, K, 82);
  for (const MatmulSet& set : every_matmul())
    for (size_t M : {1, 5, 33}) {
      ThreadPool pool(3);
      auto x = rand_floats(M * K, 83, -3.0f, 3.0f);
      std::vector<float> g1(M * N), u1(M * N), g2(M * N), u2(M * N);
      set.matmul(x.data(), K, M, wg.w, nullptr, g1.data(), N, pool);
      set.matmul(x.data(), K, M, wu.w, nullptr, u1.data(), N, pool);
      KernelsSelected sel(set.set);
      k::gelu_tanh_mul(g1.data(), u1.data(), M * N);
      k::gated_mlp(x.data(), K, M, wg.w, wu.w, k::GateAct::GeluTanh, g2.data(), u2.data(), N, pool);
      EXPECT_TRUE(bitwise_equal(g1.data(), N, g2.data(), N, M, N)) << set.name << " M=" << M;
    }
  std::vector<float> g = {-6.0f, -1.0f, -0.1f, 0.0f, 0.5f, 2.0f, 7.0f}, up(g.size(), 1.0f), y = g;
  k::gelu_tanh_mul(y.data(), up.data(), y.size());
  for (size_t i = 0; i < g.size(); ++i) {
    const double x = g[i];
    const double want = 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    EXPECT_NEAR(y[i], want, 1e-6) << x;
  }
  std::vector<float> s = {-100.0f, -3.0f, 0.0f, 29.0f, 1e4f};
  k::softcap(s.data(), s.size(), 30.0f);
  EXPECT_NEAR(s[0], 30 * std::tanh(-100.0 / 30), 1e-5);
  EXPECT_NEAR(s[3], 30 * std::tanh(29.0 / 30), 1e-5);
  EXPECT_FLOAT_EQ(s[4], 30.0f);
  EXPECT_EQ(s[2], 0.0f);
}
