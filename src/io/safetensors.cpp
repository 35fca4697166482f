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
#include <set>
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

// A short description of a JSON value for an error message. Never dumps a
// container: a hostile header can nest arrays deeply enough that dump()'s
// recursion would overflow the stack, and a huge array makes a useless message.
std::string brief(const json& v) {
  if (v.is_array()) return "an array of " + std::to_string(v.size());
  if (v.is_object()) return "an object";
  std::string s = v.dump();
  if (s.size() > 40) s = s.substr(0, 40) + "...";
  return s;
}

// Parses the header, refusing a repeated key in any object: nlohmann keeps
// the last of duplicate keys silently, and two entries for one tensor (or two
// dtypes for one entry) mean the file is corrupt or crafted.
json parse_header(const char* beg, size_t n, const std::string& what) {
  std::vector<std::set<std::string>> open_objects;
  std::string top_key, dup, dup_in;
  json::parser_callback_t cb = [&](int, json::parse_event_t ev, json& parsed) {
    switch (ev) {
      case json::parse_event_t::object_start:
        open_objects.emplace_back();
        break;
      case json::parse_event_t::object_end:
        open_objects.pop_back();
        break;
      case json::parse_event_t::key: {
        const std::string& k = parsed.get_ref<const std::string&>();
        if (open_objects.size() == 1) top_key = k;
        if (!open_objects.back().insert(k).second && dup.empty()) {
          dup = k;
          dup_in = open_objects.size() == 1 ? "the header" : "the entry of '" + top_key + "'";
        }
        break;
      }
      default:
        break;
    }
    return true;
  };
  json h;
  try {
    h = json::parse(beg, beg + n, cb);
  } catch (const json::exception& e) {
    fail(what, std::string("header is not valid JSON (") + e.what() + ")");
  }
  if (!h.is_object()) fail(what, "header must be a JSON object, found " + std::string(h.type_name()));
  if (!dup.empty()) fail(what, "key '" + dup + "' appears more than once in " + dup_in);
  return h;
}

bool is_uint(const json& v) { return v.is_number_unsigned(); }

// One tensor entry {dtype, shape, data_offsets}, checked against the data
// area; `begin` is relative to the data area.
struct Entry {
  TensorInfo info;
  uint64_t begin = 0;
};

Entry parse_entry(const std::string& name, const json& t, const std::string& what, uint64_t data_size) {
  const std::string where = "tensor '" + name + "'";
  if (!t.is_object())
    fail(what, where + ": entry must be an object with dtype, shape, data_offsets, found " + brief(t));
  for (auto k = t.begin(); k != t.end(); ++k)
    if (k.key() != "dtype" && k.key() != "shape" && k.key() != "data_offsets")
      fail(what, where + ": unknown field '" + k.key() + "' (expected only dtype, shape, data_offsets)");
  if (!t.contains("dtype")) fail(what, where + ": missing 'dtype'");
  if (!t.contains("shape")) fail(what, where + ": missing 'shape'");
  if (!t.contains("data_offsets")) fail(what, where + ": missing 'data_offsets'");
  const json& jd = t["dtype"];
  const json& js = t["shape"];
  const json& jo = t["data_offsets"];
  if (!jd.is_string()) fail(what, where + ": 'dtype' must be a string, found " + brief(jd));
  if (!js.is_array()) fail(what, where + ": 'shape' must be an array, found " + brief(js));
  if (!jo.is_array() || jo.size() != 2)
    fail(what, where + ": 'data_offsets' must be an array [begin, end], found " + brief(jo));

  Entry e;
  TensorInfo& info = e.info;
  info.name = name;
  info.file = what;
  const std::string dt = jd.get<std::string>();
  auto de = std::find_if(std::begin(kDTypes), std::end(kDTypes), [&](auto& d) { return d.name == dt; });
  if (de == std::end(kDTypes)) fail(what, where + ": unknown dtype '" + dt + "'");
  info.dtype = de->type;

  // Element count with overflow checks: a hostile shape must not wrap.
  // 2^50 elements (of at most 8 bytes) is far beyond any real tensor and
  // keeps numel * dtype size well inside 64 bits.
  uint64_t numel = 1;
  for (size_t i = 0; i < js.size(); ++i) {
    const json& d = js[i];
    if (!is_uint(d))
      fail(what, where + ": shape entries must be non-negative integers, found " + brief(d) + " at index " +
                     std::to_string(i));
    uint64_t v = d.get<uint64_t>();
    if (v > (uint64_t(1) << 50) || (v && numel > (uint64_t(1) << 50) / v))
      fail(what, where + ": shape " + shape_str(info.shape) + " then " + std::to_string(v) +
                     " has implausibly many elements (overflow)");
    numel *= v;
    info.shape.push_back(int64_t(v));
  }
  if (!is_uint(jo[0]) || !is_uint(jo[1]))
    fail(what, where + ": data_offsets must be non-negative integers, found [" + brief(jo[0]) + ", " +
                   brief(jo[1]) + "]");
  const uint64_t b = jo[0].get<uint64_t>(), end = jo[1].get<uint64_t>();
  const std::string range = "[" + std::to_string(b) + ", " + std::to_string(end) + "]";
  if (b > end) fail(what, where + ": data_offsets " + range + " has begin > end");
  if (end > data_size)
    fail(what, where + ": data_offsets end " + std::to_string(end) + " is past the data area (" +
                   std::to_string(data_size) + " bytes; truncated file?)");
  const uint64_t expect = numel * de->size;
  if (end - b != expect)
    fail(what, where + ": data_offsets " + range + " hold " + std::to_string(end - b) + " bytes, but dtype " +
                   dt + " x shape " + shape_str(info.shape) + " needs " + std::to_string(expect));
  info.nbytes = size_t(end - b);
  e.begin = b;
  return e;
}

struct Span {
  uint64_t b, e;
  std::string name;
};

// The tensors must tile the data area exactly, as the reference
// implementation requires: no overlap (two tensors aliasing bytes), no hole
// and no trailing bytes (room to smuggle a second payload into the file).
void check_layout(std::vector<Span>& spans, uint64_t data_size, const std::string& what) {
  std::sort(spans.begin(), spans.end(), [](auto& a, auto& b) { return a.b < b.b || (a.b == b.b && a.e < b.e); });
  uint64_t at = 0;
  for (size_t i = 0; i < spans.size(); ++i) {
    if (spans[i].b < at)
      fail(what, "tensors '" + spans[i - 1].name + "' and '" + spans[i].name + "' overlap in the data area");
    if (spans[i].b > at)
      fail(what, "bytes [" + std::to_string(at) + ", " + std::to_string(spans[i].b) +
                     ") of the data area belong to no tensor (hole before '" + spans[i].name + "')");
    at = spans[i].e;
  }
  if (at != data_size)
    fail(what, "data area is " + std::to_string(data_size) + " bytes but the tensors cover only " +
                   std::to_string(at) + " (trailing bytes)");
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
    fail(what, "file is " + std::to_string(size) + " bytes" + (size == 0 ? " (empty)" : "") +
                   ", too short for the 8-byte header length of a safetensors file");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | uint64_t(data[i]);
  if (n > kMaxHeader)
    fail(what, "header length " + std::to_string(n) +
                   " is implausibly large (over 100 MiB); is this a safetensors file?");
  if (n > size - 8)
    fail(what, "header length " + std::to_string(n) + " exceeds the file size " + std::to_string(size) +
                   " (truncated file?)");
  const json h = parse_header(reinterpret_cast<const char*>(data + 8), size_t(n), what);

  const std::byte* base = data + 8 + n;
  const uint64_t data_size = size - 8 - n;
  std::vector<Span> spans;
  for (auto it = h.begin(); it != h.end(); ++it) {
    const std::string& name = it.key();
    if (name == "__metadata__") {
      if (!it->is_object()) fail(what, "__metadata__ must be an object of strings, found " + brief(*it));
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string())
          fail(what, "__metadata__ value for '" + m.key() + "' must be a string, found " + brief(*m));
        f->metadata_[m.key()] = m->get<std::string>();
      }
      continue;
    }
    Entry e = parse_entry(name, *it, what, data_size);
    e.info.data = base + e.begin;
    spans.push_back({e.begin, e.begin + e.info.nbytes, name});
    f->tensors_.emplace(name, std::move(e.info));
  }
  check_layout(spans, data_size, what);
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
