// The safetensors reader against a corpus of malformed files, each of which
// must be refused with a cloze::Error naming the file and the problem, and
// against valid files whose contents are known. The corpus is written by
// tools/make_malformed_safetensors.py.
#include <gtest/gtest.h>

#include <cctype>
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "cloze/error.h"
#include "cloze/safetensors.h"
#include "test_util.h"

namespace fs = std::filesystem;
using cloze::DType;
using cloze::SafetensorsFile;

namespace {

const fs::path kCorpus = fs::path(CLOZE_FIXTURES) / "safetensors";

struct Case {
  const char* file;      // under malformed/, without .safetensors
  const char* message;   // substring the error must contain
};

// One row per file the generator writes; the message is what a user needs to
// see to know what is wrong with that file.
const Case kMalformed[] = {
    {"empty", "file is 0 bytes (empty), too short for the 8-byte header length"},
    {"short_5_bytes", "file is 5 bytes, too short"},
    {"header_len_exceeds_file", "header length 4096 exceeds the file size"},
    {"header_len_absurd", "header length 4611686018427387904 is implausibly large"},
    {"header_len_zero", "header is not valid JSON"},
    {"header_not_json", "header is not valid JSON"},
    {"header_json_array", "header must be a JSON object, found array"},
    {"header_json_string", "header must be a JSON object, found string"},
    {"header_truncated_json", "header is not valid JSON"},
    {"header_invalid_utf8", "header is not valid JSON"},
    {"duplicate_tensor", "key 'w' appears more than once in the header"},
    {"duplicate_field", "key 'dtype' appears more than once in the entry of 'w'"},
    {"metadata_not_object", "__metadata__ must be an object of strings, found \"pt\""},
    {"metadata_non_string", "__metadata__ value for 'step' must be a string, found 3"},
    {"entry_not_object", "tensor 'w': entry must be an object with dtype, shape, data_offsets, found an array"},
    {"missing_dtype", "tensor 'w': missing 'dtype'"},
    {"missing_shape", "tensor 'w': missing 'shape'"},
    {"missing_data_offsets", "tensor 'w': missing 'data_offsets'"},
    {"unknown_field", "tensor 'w': unknown field 'layout'"},
    {"unknown_dtype", "tensor 'w': unknown dtype 'Q4_K'"},
    {"dtype_lowercase", "tensor 'w': unknown dtype 'f32'"},
    {"dtype_not_string", "tensor 'w': 'dtype' must be a string, found 4"},
    {"shape_not_array", "tensor 'w': 'shape' must be an array, found \"4\""},
    {"shape_negative", "tensor 'w': shape entries must be non-negative integers, found -1 at index 0"},
    {"shape_float", "tensor 'w': shape entries must be non-negative integers, found 2.5 at index 0"},
    {"shape_integral_float", "tensor 'w': shape entries must be non-negative integers, found 4.0 at index 0"},
    {"shape_string_entry", "tensor 'w': shape entries must be non-negative integers, found \"4\" at index 0"},
    {"shape_nested_deep", "tensor 'w': shape entries must be non-negative integers, found an array of 1 at index 0"},
    {"shape_overflow", "tensor 'w': shape [1099511627776] then 1099511627776 has implausibly many elements (overflow)"},
    {"shape_beyond_uint64", "tensor 'w': shape entries must be non-negative integers, found 1.844674407370955e+20 at index 0"},
    {"offsets_one_entry", "tensor 'w': 'data_offsets' must be an array [begin, end], found an array of 1"},
    {"offsets_three_entries", "tensor 'w': 'data_offsets' must be an array [begin, end], found an array of 3"},
    {"offsets_not_array", "tensor 'w': 'data_offsets' must be an array [begin, end], found an object"},
    {"offsets_negative", "tensor 'w': data_offsets must be non-negative integers, found [-16, 0]"},
    {"offsets_float", "tensor 'w': data_offsets must be non-negative integers, found [0, 16.0]"},
    {"offsets_begin_gt_end", "tensor 'w': data_offsets [16, 0] has begin > end"},
    {"offsets_end_past_data", "tensor 'w': data_offsets end 64 is past the data area (16 bytes; truncated file?)"},
    {"nbytes_mismatch", "tensor 'w': data_offsets [0, 8] hold 8 bytes, but dtype F32 x shape [4] needs 16"},
    {"overlap", "tensors 'a' and 'b' overlap in the data area"},
    {"zero_size_inside_other", "tensors 'a' and 'z' overlap in the data area"},
    {"hole", "bytes [16, 32) of the data area belong to no tensor (hole before 'b')"},
    {"trailing_bytes", "data area is 20 bytes but the tensors cover only 16 (trailing bytes)"},
};

using cloze::test::error_of;

std::vector<std::byte> slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<char> c((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> b(c.size());
  if (!c.empty()) std::memcpy(b.data(), c.data(), c.size());  // memcpy from null is UB even for 0 bytes
  return b;
}

// The bytes the generator writes for the k-th tensor of a valid file.
std::vector<std::byte> pattern(size_t k, size_t n) {
  std::vector<std::byte> b(n);
  for (size_t j = 0; j < n; ++j) b[j] = std::byte((k * 31 + j * 7) & 0xff);
  return b;
}

class SafetensorsMalformed : public ::testing::TestWithParam<Case> {};

TEST_P(SafetensorsMalformed, RejectedWithMessageNamingFileAndProblem) {
  const Case& c = GetParam();
  const fs::path p = kCorpus / "malformed" / (std::string(c.file) + ".safetensors");
  ASSERT_TRUE(fs::exists(p)) << p << " missing: rerun tools/make_malformed_safetensors.py";
  const std::string msg = error_of([&] { SafetensorsFile::open(p); });
  EXPECT_NE(msg.find(p.string() + ": "), std::string::npos) << msg;
  EXPECT_NE(msg.find(c.message), std::string::npos) << "expected: " << c.message << "\n     got: " << msg;
  // Parsing the same bytes from memory gives the same verdict under its name.
  const auto bytes = slurp(p);
  const std::string mem = error_of([&] { SafetensorsFile::parse(bytes.data(), bytes.size(), "in-memory"); });
  EXPECT_NE(mem.find("in-memory: "), std::string::npos) << mem;
  EXPECT_NE(mem.find(c.message), std::string::npos) << mem;
}

INSTANTIATE_TEST_SUITE_P(SafetensorsCorpus, SafetensorsMalformed, ::testing::ValuesIn(kMalformed),
                         [](const auto& info) { return std::string(info.param.file); });

TEST(SafetensorsCorpus, EveryMalformedFileHasACase) {
  std::set<std::string> listed;
  for (const auto& c : kMalformed) listed.insert(c.file);
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(kCorpus / "malformed")) {
    ++files;
    EXPECT_TRUE(listed.count(e.path().stem().string())) << e.path() << " has no expected message here";
  }
  EXPECT_EQ(files, std::size(kMalformed));
  EXPECT_GE(files, 20u);
}

TEST(Safetensors, OpenMissingFileNamesIt) {
  const fs::path p = kCorpus / "does-not-exist.safetensors";
  EXPECT_NE(error_of([&] { SafetensorsFile::open(p); }).find(p.string() + ": cannot open"), std::string::npos);
  EXPECT_NE(error_of([&] { SafetensorsFile::open(kCorpus); }).find("not a regular file"), std::string::npos);
}

TEST(Safetensors, AllDtypesReadBackTheGeneratorsBytes) {
  auto f = SafetensorsFile::open(kCorpus / "valid" / "all_dtypes.safetensors");
  ASSERT_EQ(f->tensors().size(), 13u);
  EXPECT_EQ(f->metadata().at("format"), "pt");
  // The generator lays tensors out in this order; pattern() depends on it.
  const DType order[] = {DType::BOOL, DType::U8,  DType::I8,  DType::U16, DType::I16, DType::F16, DType::BF16,
                         DType::U32,  DType::I32, DType::F32, DType::U64, DType::I64, DType::F64};
  for (size_t k = 0; k < std::size(order); ++k) {
    std::string name = "t_" + std::string(cloze::dtype_name(order[k]));
    for (auto& ch : name) ch = char(std::tolower(static_cast<unsigned char>(ch)));
    SCOPED_TRACE(name);
    const auto& t = f->tensors().at(name);
    EXPECT_EQ(t.dtype, order[k]);
    EXPECT_EQ(t.shape, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(t.numel(), 6);
    ASSERT_EQ(t.nbytes, 6 * cloze::dtype_size(order[k]));
    EXPECT_EQ(std::vector<std::byte>(t.data, t.data + t.nbytes), pattern(k, t.nbytes));
  }
}

TEST(Safetensors, ZeroSizeAndScalarTensorsAreAccepted) {
  auto f = SafetensorsFile::open(kCorpus / "valid" / "zero_size.safetensors");
  const auto& ts = f->tensors();
  ASSERT_EQ(ts.size(), 4u);
  EXPECT_EQ(ts.at("empty").shape, std::vector<int64_t>{0});
  EXPECT_EQ(ts.at("empty").nbytes, 0u);
  EXPECT_EQ(ts.at("empty").numel(), 0);
  EXPECT_EQ(ts.at("also_empty").numel(), 0);
  EXPECT_TRUE(ts.at("scalar").shape.empty());
  EXPECT_EQ(ts.at("scalar").numel(), 1);
  EXPECT_EQ(std::vector<std::byte>(ts.at("scalar").data, ts.at("scalar").data + 2), pattern(1, 2));
  EXPECT_EQ(std::vector<std::byte>(ts.at("x").data, ts.at("x").data + 6), pattern(2, 6));
}

TEST(Safetensors, EmptyHeaderObjectIsAFileWithNoTensors) {
  auto f = SafetensorsFile::open(kCorpus / "valid" / "no_tensors.safetensors");
  EXPECT_TRUE(f->tensors().empty());
}

TEST(Safetensors, GoldenHeaderShapedFileOpens) {
  auto f = SafetensorsFile::open(kCorpus / "valid" / "golden_like.safetensors");
  EXPECT_EQ(f->tensors().size(), 26u);
  EXPECT_EQ(f->tensors().at("model.embed_tokens.weight").shape, (std::vector<int64_t>{3, 3}));
}

}  // namespace
