// safetensors: 8-byte little-endian header length N, N bytes of JSON
// {name: {dtype, shape, data_offsets:[begin,end]}, "__metadata__": {str: str}},
// then the data area. Offsets are relative to the data area.
#include "cloze/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "cloze/error.h"

namespace cloze {

using json = nlohmann::json;

namespace {

struct DTypeEntry {
  std::string_view name;
  DType type;
  size_t size;
};
constexpr DTypeEntry kDTypes[] = {
    {"BOOL", DType::BOOL, 1}, {"U8", DType::U8, 1},   {"I8", DType::I8, 1},
    {"U16", DType::U16, 2},   {"I16", DType::I16, 2}, {"F16", DType::F16, 2},
    {"BF16", DType::BF16, 2}, {"U32", DType::U32, 4}, {"I32", DType::I32, 4},
    {"F32", DType::F32, 4},   {"U64", DType::U64, 8}, {"I64", DType::I64, 8},
    {"F64", DType::F64, 8},
};

// A header larger than this is not a real checkpoint; refuse before parsing.
constexpr uint64_t kMaxHeader = 100ull << 20;

[[noreturn]] void fail(const std::string& what, const std::string& msg) {
  throw Error(what + ": " + msg);
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

}  // namespace

std::string_view dtype_name(DType t) {
  for (auto& e : kDTypes)
    if (e.type == t) return e.name;
  return "?";
}

size_t dtype_size(DType t) {
  for (auto& e : kDTypes)
    if (e.type == t) return e.size;
  return 0;
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::parse(const std::byte* data, size_t size,
                                                        std::string what) {
  auto f = std::unique_ptr<SafetensorsFile>(new SafetensorsFile());
  f->path_ = what;
  if (size < 8)
    fail(what, "file is " + std::to_string(size) +
                   " bytes, too short for the 8-byte header length of a safetensors file");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | uint64_t(data[i]);
  if (n > kMaxHeader) fail(what, "header length " + std::to_string(n) + " is implausibly large (over 100 MiB)");
  if (n > size - 8)
    fail(what, "header length " + std::to_string(n) + " exceeds the file size " + std::to_string(size) +
                   " (truncated file?)");
  const char* hbeg = reinterpret_cast<const char*>(data + 8);
  // nlohmann keeps the last of duplicate keys silently; count the top-level
  // keys as they are parsed, since two entries for one name is a corrupt file.
  size_t top_keys = 0;
  json::parser_callback_t count = [&](int depth, json::parse_event_t ev, json&) {
    if (depth == 1 && ev == json::parse_event_t::key) ++top_keys;
    return true;
  };
  json h;
  try {
    h = json::parse(hbeg, hbeg + n, count);
  } catch (const json::parse_error& e) {
    fail(what, std::string("header is not valid JSON (") + e.what() + ")");
  }
  if (!h.is_object()) fail(what, "header must be a JSON object, found " + std::string(h.type_name()));

  const std::byte* base = data + 8 + n;
  const uint64_t data_size = size - 8 - n;
  struct Span {
    uint64_t b, e;
    const std::string* name;
  };
  std::vector<Span> spans;
  for (auto it = h.begin(); it != h.end(); ++it) {
    const std::string& name = it.key();
    if (name == "__metadata__") {
      if (!it->is_object()) fail(what, "__metadata__ must be an object of strings");
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string()) fail(what, "__metadata__ value for '" + m.key() + "' must be a string");
        f->metadata_[m.key()] = m->get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + name + "'";
    const json& t = *it;
    if (!t.is_object()) fail(what, where + ": entry must be an object with dtype, shape, data_offsets");
    for (auto k = t.begin(); k != t.end(); ++k)
      if (k.key() != "dtype" && k.key() != "shape" && k.key() != "data_offsets")
        fail(what, where + ": unknown field '" + k.key() + "'");
    if (!t.contains("dtype") || !t["dtype"].is_string()) fail(what, where + ": missing or non-string 'dtype'");
    if (!t.contains("shape") || !t["shape"].is_array()) fail(what, where + ": missing or non-array 'shape'");
    if (!t.contains("data_offsets") || !t["data_offsets"].is_array() || t["data_offsets"].size() != 2)
      fail(what, where + ": 'data_offsets' must be an array [begin, end]");

    TensorInfo info;
    info.name = name;
    info.file = what;
    std::string dt = t["dtype"].get<std::string>();
    auto de = std::find_if(std::begin(kDTypes), std::end(kDTypes), [&](auto& e) { return e.name == dt; });
    if (de == std::end(kDTypes)) fail(what, where + ": unknown dtype '" + dt + "'");
    info.dtype = de->type;

    // Element count with overflow checks: a hostile shape must not wrap.
    uint64_t numel = 1;
    for (const auto& d : t["shape"]) {
      if (!d.is_number_unsigned())
        fail(what, where + ": shape entries must be non-negative integers, found " + d.dump());
      uint64_t v = d.get<uint64_t>();
      if (v > (uint64_t(1) << 40) || (v && numel > (uint64_t(1) << 50) / v))
        fail(what, where + ": shape " + t["shape"].dump() + " is implausibly large");
      numel *= v;
      info.shape.push_back(int64_t(v));
    }
    for (const auto& d : t["data_offsets"])
      if (!d.is_number_unsigned())
        fail(what, where + ": data_offsets must be non-negative integers, found " + t["data_offsets"].dump());
    uint64_t b = t["data_offsets"][0].get<uint64_t>(), e = t["data_offsets"][1].get<uint64_t>();
    if (b > e) fail(what, where + ": data_offsets [" + std::to_string(b) + ", " + std::to_string(e) + "] has begin > end");
    if (e > data_size)
      fail(what, where + ": data_offsets end " + std::to_string(e) + " is past the data area (" +
                     std::to_string(data_size) + " bytes; truncated file?)");
    uint64_t expect = numel * de->size;
    if (e - b != expect)
      fail(what, where + ": " + std::to_string(e - b) + " bytes in data_offsets, but dtype " + dt + " x shape " +
                     shape_str(info.shape) + " needs " + std::to_string(expect));
    info.data = base + b;
    info.nbytes = size_t(e - b);
    auto [pos, inserted] = f->tensors_.emplace(name, std::move(info));
    if (!inserted) fail(what, where + " appears twice in the header");
    spans.push_back({b, e, &pos->first});
  }
  if (top_keys != h.size()) fail(what, "header names the same tensor more than once");
  std::sort(spans.begin(), spans.end(), [](auto& a, auto& b) { return a.b < b.b || (a.b == b.b && a.e < b.e); });
  for (size_t i = 1; i < spans.size(); ++i)
    if (spans[i].b < spans[i - 1].e)
      fail(what, "tensors '" + *spans[i - 1].name + "' and '" + *spans[i].name + "' overlap in the data area");
  return f;
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::filesystem::path& path) {
  const std::string what = path.string();
  int fd = ::open(what.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(what, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(what, "not a regular file");
  }
  size_t size = size_t(st.st_size);
  void* map = nullptr;
  if (size > 0) {
    map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      ::close(fd);
      fail(what, std::string("mmap failed: ") + std::strerror(errno));
    }
  }
  ::close(fd);
  std::unique_ptr<SafetensorsFile> f;
  try {
    static const std::byte empty{};
    f = parse(map ? static_cast<const std::byte*>(map) : &empty, size, what);
  } catch (...) {
    if (map) munmap(map, size);
    throw;
  }
  f->map_ = map;
  f->map_size_ = size;
  return f;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) munmap(map_, map_size_);
}

}  // namespace cloze
