#include "tokenizer/bpe.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdio>
#include <functional>
#include <queue>
#include <thread>

#include "cloze/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"
#include "tokenizer/word_cache.h"

namespace cloze::tok {

namespace {

size_t pow2_at_least(size_t n) {
  size_t c = 16;
  while (c < n) c <<= 1;
  return c;
}

// Ids are dense in real vocabularies; a far larger one is a corrupt file and
// would make us allocate a huge id table.
constexpr int64_t kMaxId = (int64_t(1) << 24) - 1;

}  // namespace

// ---- StringIdMap ----------------------------------------------------------

void StringIdMap::build(size_t n) {
  const size_t cap = pow2_at_least(n * 2 + 1);
  slots_.assign(cap, kEmpty);
  mask_ = cap - 1;
}

// A slot holds the key's hash (high 32 bits) and its id (low 32 bits), so a
// probe only touches the vocabulary string when the hashes agree.
int32_t StringIdMap::find(std::string_view key, const std::vector<std::string>& tokens) const {
  if (slots_.empty()) return -1;
  const uint64_t h = std::hash<std::string_view>{}(key);
  const uint32_t tag = uint32_t(h >> 32);
  for (size_t i = h & mask_;; i = (i + 1) & mask_) {
    const uint64_t s = slots_[i];
    if (s == kEmpty) return -1;
    if (uint32_t(s >> 32) == tag && tokens[uint32_t(s)] == key) return int32_t(uint32_t(s));
  }
}

int32_t StringIdMap::insert(int32_t id, const std::vector<std::string>& tokens) {
  const std::string& key = tokens[size_t(id)];
  const uint64_t h = std::hash<std::string_view>{}(key);
  const uint32_t tag = uint32_t(h >> 32);
  for (size_t i = h & mask_;; i = (i + 1) & mask_) {
    const uint64_t s = slots_[i];
    if (s == kEmpty) { slots_[i] = (uint64_t(tag) << 32) | uint32_t(id); return id; }
    if (uint32_t(s >> 32) == tag && tokens[uint32_t(s)] == key) return int32_t(uint32_t(s));
  }
}

// ---- PairMap --------------------------------------------------------------

void PairMap::reserve(size_t n) {
  // Load factor 0.5..0.75: a smaller table misses the CPU cache less often.
  const size_t cap = pow2_at_least(n + n / 3 + 1);
  slots_.assign(cap, Slot{});
  mask_ = cap - 1;
  int bits = 0;
  while ((size_t(1) << bits) < cap) ++bits;
  shift_ = 64 - bits;
}

void PairMap::set(int32_t a, int32_t b, Value v) {
  const uint64_t key = pack(a, b);
  for (size_t i = hash(key);; i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    if (s.key == key || s.key == kEmpty) { s.key = key; s.value = v; return; }
  }
}

// ---- loading --------------------------------------------------------------

Bpe Bpe::from_file(TokenizerFile& file, const std::string& what, bool byte_level) {
  const nlohmann::json* model = tok::find(file.rest, "model");
  if (!model) throw Error(what + ": missing field \"model\"");
  if (!model->is_object()) throw Error(what + ": model: expected an object, found " + json_type_name(*model));
  if (const auto* t = tok::find(*model, "type")) {
    if (!t->is_string()) throw Error(what + ": model.type: expected a string, found " + json_type_name(*t));
    if (t->get<std::string>() != "BPE")
      throw Error(what + ": model.type: unsupported model type \"" + t->get<std::string>() + "\" (supported: BPE)");
  }
  if (!file.vocab_streamed) {
    const auto* v = tok::find(*model, "vocab");
    throw Error(what + ": model.vocab: expected an object mapping tokens to ids, found " +
                (v ? json_type_name(*v) : "nothing (field missing)"));
  }
  if (!file.merges_streamed) {
    const auto* m = tok::find(*model, "merges");
    throw Error(what + ": model.merges: expected an array of merges, found " +
                (m ? json_type_name(*m) : "nothing (field missing)"));
  }
  if (const auto* d = tok::find(*model, "dropout"); d && !d->is_null() && !(d->is_number() && d->get<double>() == 0.0))
    throw Error(what + ": model.dropout: unsupported BPE dropout (expected null, found " + d->dump() + ")");
  for (const char* k : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (const auto* v = tok::find(*model, k); v && !v->is_null() && !(v->is_string() && v->get<std::string>().empty()))
      throw Error(what + ": model." + k + ": unsupported (expected \"\" or null, found " + v->dump() + ")");

  Bpe b;
  static std::atomic<uint64_t> next_serial{1};
  b.serial_ = next_serial++;
  b.byte_level_ = byte_level;
  b.fuse_unk_ = get_bool(*model, "fuse_unk", false, what, "model");
  b.byte_fallback_ = get_bool(*model, "byte_fallback", false, what, "model");
  b.ignore_merges_ = get_bool(*model, "ignore_merges", false, what, "model");

  // Vocabulary: id -> token, then the string index.
  int64_t max_id = -1;
  for (const auto& [tok, id] : file.vocab) {
    if (id < 0 || id > kMaxId)
      throw Error(what + ": model.vocab[\"" + tok + "\"]: expected an id in 0.." + std::to_string(kMaxId) +
                  ", found " + std::to_string(id));
    max_id = std::max(max_id, id);
  }
  // Ids are dense in real vocabularies; a far larger id than the entry count
  // is a corrupt file and would make us allocate a huge table for nothing.
  const int64_t dense_limit = 4 * int64_t(file.vocab.size()) + 65536;
  if (max_id > dense_limit)
    throw Error(what + ": model.vocab: id " + std::to_string(max_id) + " is far beyond the " +
                std::to_string(file.vocab.size()) + " entries (vocabulary ids must be dense, 0..N-1)");
  b.tokens_.resize(size_t(max_id + 1));
  b.present_.assign(size_t(max_id + 1), 0);
  for (auto& [tok, id] : file.vocab) {
    if (b.present_[size_t(id)])
      throw Error(what + ": model.vocab: duplicate id " + std::to_string(id) + " (given to \"" +
                  b.tokens_[size_t(id)] + "\" and \"" + tok + "\"); each id must name one token");
    b.present_[size_t(id)] = 1;
    b.tokens_[size_t(id)] = std::move(tok);
  }
  file.vocab = {};
  b.index_.build(b.tokens_.size());
  for (size_t id = 0; id < b.tokens_.size(); ++id) {
    if (!b.present_[id]) continue;
    const int32_t prev = b.index_.insert(int32_t(id), b.tokens_);
    if (prev != int32_t(id))
      throw Error(what + ": model.vocab: duplicate token \"" + b.tokens_[id] + "\" (ids " + std::to_string(prev) +
                  " and " + std::to_string(id) + ")");
  }

  // Merges: rank = position in the list. Resolving a merge is three lookups
  // in a table far larger than the CPU cache (Gemma 3: 514k merges over 262k
  // entries), so the lookups run on several threads; the table is only read.
  const size_t n_merges = file.merges.size();
  struct Resolved { int32_t a, c, m; };
  std::vector<Resolved> resolved(n_merges);
  auto resolve = [&](size_t begin, size_t end) {
    std::string joined;
    for (size_t r = begin; r < end; ++r) {
      const auto& [l, rt] = file.merges[r];
      joined.assign(l).append(rt);
      resolved[r] = {b.index_.find(l, b.tokens_), b.index_.find(rt, b.tokens_), b.index_.find(joined, b.tokens_)};
    }
  };
  const size_t n_threads = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 8);
  if (n_merges < 50'000 || n_threads == 1) {
    resolve(0, n_merges);
  } else {
    std::vector<std::thread> pool;
    const size_t chunk = (n_merges + n_threads - 1) / n_threads;
    for (size_t t = 1; t < n_threads; ++t)
      pool.emplace_back(resolve, std::min(n_merges, t * chunk), std::min(n_merges, (t + 1) * chunk));
    resolve(0, std::min(n_merges, chunk));
    for (auto& th : pool) th.join();
  }
  b.merges_.reserve(n_merges);
  for (size_t r = 0; r < n_merges; ++r) {
    const auto [a, c, m] = resolved[r];
    if (a < 0 || c < 0 || m < 0) {
      const auto& [l, rt] = file.merges[r];
      const std::string where = what + ": model.merges[" + std::to_string(r) + "] (\"" + l + "\", \"" + rt + "\"): ";
      if (a < 0) throw Error(where + "token \"" + l + "\" is not in model.vocab");
      if (c < 0) throw Error(where + "token \"" + rt + "\" is not in model.vocab");
      throw Error(where + "the merged token \"" + l + rt + "\" is not in model.vocab");
    }
    b.merges_.set(a, c, {int32_t(r), m});
  }
  file.merges = {};

  if (const auto* u = tok::find(*model, "unk_token"); u && !u->is_null()) {
    if (!u->is_string()) throw Error(what + ": model.unk_token: expected a string or null, found " + json_type_name(*u));
    b.unk_ = b.index_.find(u->get<std::string>(), b.tokens_);
    if (b.unk_ < 0)
      throw Error(what + ": model.unk_token: \"" + u->get<std::string>() + "\" is not in model.vocab");
  }

  b.fallback_ids_.fill(-1);
  b.fallback_complete_ = true;
  for (int v = 0; v < 256; ++v) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", v);
    b.fallback_ids_[size_t(v)] = b.index_.find(name, b.tokens_);
    if (b.fallback_ids_[size_t(v)] < 0) b.fallback_complete_ = false;
  }
  if (!byte_level) b.prepare_cuts();

  b.byte_ids_.fill(-1);
  if (byte_level) {
    std::string ch;
    for (int v = 0; v < 256; ++v) {
      ch.clear();
      utf8::append(ch, byte_level::byte_to_char(uint8_t(v)));
      b.byte_ids_[size_t(v)] = b.index_.find(ch, b.tokens_);
    }
  }
  return b;
}

// ---- cutting SentencePiece words ------------------------------------------

namespace {
constexpr std::string_view kMetaspace = "\xE2\x96\x81";  // U+2581 "▁"
// Is s[at] preceded by another "▁"?
bool after_metaspace(std::string_view s, size_t at) {
  return at >= kMetaspace.size() && s.compare(at - kMetaspace.size(), kMetaspace.size(), kMetaspace) == 0;
}
}  // namespace

void Bpe::prepare_cuts() {
  // An unknown "▁" would be an unk symbol that fuse_unk could join across a cut.
  if (find(kMetaspace) < 0) return;
  constexpr size_t kMaxSpanning = 256;  // beyond that, checking each cut costs more than it saves
  for (size_t id = 0; id < tokens_.size(); ++id) {
    if (!present_[id]) continue;
    const std::string& t = tokens_[id];
    std::vector<size_t> offsets;
    for (size_t at = t.find(kMetaspace, 1); at != std::string::npos; at = t.find(kMetaspace, at + 1))
      if (!after_metaspace(t, at)) offsets.push_back(at);
    if (offsets.empty()) continue;
    if (spanning_.size() == kMaxSpanning) { spanning_.clear(); return; }
    spanning_.push_back({t, std::move(offsets)});
  }
  cut_at_metaspace_ = true;
}

// Is there a vocabulary entry that, placed over `word` so that one of its
// inner "▁" (after another character) falls at `pos`, matches the word?
// If not, no merge can ever join the characters on both sides of `pos`.
bool Bpe::can_cut_before(std::string_view word, size_t pos) const {
  for (const Spanning& s : spanning_)
    for (size_t off : s.offsets)
      if (off <= pos && pos - off + s.text.size() <= word.size() && word.compare(pos - off, s.text.size(), s.text) == 0)
        return false;
  return true;
}

// ---- encoding -------------------------------------------------------------

void Bpe::initial_symbols(std::string_view word, std::vector<int32_t>& syms) const {
  syms.clear();
  bool prev_unk = false;
  auto push_unknown = [&] {
    if (unk_ < 0) return;  // `tokenizers` drops unknown symbols when there is no unk_token
    if (fuse_unk_ && prev_unk) return;
    syms.push_back(unk_);
    prev_unk = true;
  };
  if (byte_level_) {
    for (unsigned char c : word) {
      const int32_t id = byte_ids_[c];
      if (id >= 0) { syms.push_back(id); prev_unk = false; }
      else push_unknown();
    }
    return;
  }
  size_t i = 0;
  while (i < word.size()) {
    const size_t start = i;
    utf8::next(word, i);
    const int32_t id = index_.find(word.substr(start, i - start), tokens_);
    if (id >= 0) { syms.push_back(id); prev_unk = false; continue; }
    if (byte_fallback_) {
      // <0xAB> tokens for each byte, if the vocabulary has them all.
      bool all = true;
      for (size_t k = start; k < i; ++k) all = all && fallback_ids_[static_cast<unsigned char>(word[k])] >= 0;
      if (all) {
        for (size_t k = start; k < i; ++k) syms.push_back(fallback_ids_[static_cast<unsigned char>(word[k])]);
        prev_unk = false;
        continue;
      }
    }
    push_unknown();
  }
}

// Words of a few dozen symbols: keep the pair ranks in an array, merge the
// lowest rank (leftmost on ties), update only the two neighbouring pairs.
// Quadratic, but for short words it beats a heap by a wide margin.
void Bpe::merge_small(std::vector<int32_t>& syms) const {
  size_t n = syms.size();
  int32_t rank[64], merged[64];
  auto look = [&](size_t k) {
    const PairMap::Value* v = merges_.find(syms[k], syms[k + 1]);
    rank[k] = v ? v->rank : INT32_MAX;
    merged[k] = v ? v->id : -1;
  };
  for (size_t k = 0; k + 1 < n; ++k) look(k);
  while (n > 1) {
    size_t best = 0;
    for (size_t k = 1; k + 1 < n; ++k)
      if (rank[k] < rank[best]) best = k;
    if (rank[best] == INT32_MAX) break;
    syms[best] = merged[best];
    // Drop symbol best+1 and pair best+1 (its pairs shift one left).
    for (size_t k = best + 1; k + 1 < n; ++k) {
      syms[k] = syms[k + 1];
      rank[k] = rank[k + 1];
      merged[k] = merged[k + 1];
    }
    --n;
    if (best > 0) look(best - 1);
    if (best + 1 < n) look(best);
  }
  syms.resize(n);
}

// Long words: symbols in a linked list and candidate merges in a min-heap of
// (rank, position), like `tokenizers`' word.rs; stale entries are skipped
// when popped. O(n log n).
void Bpe::merge_heap(std::vector<int32_t>& syms) const {
  const size_t n = syms.size();
  std::vector<int32_t> prev(n), next(n);
  for (size_t k = 0; k < n; ++k) {
    prev[k] = int32_t(k) - 1;
    next[k] = k + 1 < n ? int32_t(k + 1) : -1;
  }
  struct Cand { int32_t rank, pos, left, right; };
  auto later = [](const Cand& x, const Cand& y) { return x.rank != y.rank ? x.rank > y.rank : x.pos > y.pos; };
  std::priority_queue<Cand, std::vector<Cand>, decltype(later)> heap(later);
  auto push = [&](int32_t pos) {
    if (pos < 0) return;
    const int32_t nx = next[size_t(pos)];
    if (nx < 0) return;
    if (const PairMap::Value* v = merges_.find(syms[size_t(pos)], syms[size_t(nx)]))
      heap.push({v->rank, pos, syms[size_t(pos)], syms[size_t(nx)]});
  };
  std::vector<uint8_t> alive(n, 1);
  for (size_t k = 0; k + 1 < n; ++k) push(int32_t(k));
  while (!heap.empty()) {
    const Cand c = heap.top();
    heap.pop();
    const size_t p = size_t(c.pos);
    if (!alive[p] || next[p] < 0) continue;
    const size_t q = size_t(next[p]);
    if (syms[p] != c.left || syms[q] != c.right) continue;  // stale
    syms[p] = merges_.find(c.left, c.right)->id;
    alive[q] = 0;
    next[p] = next[q];
    if (next[q] >= 0) prev[size_t(next[q])] = int32_t(p);
    push(prev[p]);
    push(int32_t(p));
  }
  size_t w = 0;
  for (size_t k = 0; k < n; ++k)
    if (alive[k]) syms[w++] = syms[k];
  syms.resize(w);
}

void Bpe::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (byte_level_ && word.size() == 1) {  // the most common word of all: one byte
    const int32_t id = byte_ids_[static_cast<unsigned char>(word[0])];
    if (id >= 0) { out.push_back(id); return; }
  }
  if (ignore_merges_) {
    // Llama-3 style: a word that is itself a vocabulary entry is taken whole.
    const int32_t id = byte_level_ ? index_.find(byte_level::encode(word), tokens_) : index_.find(word, tokens_);
    if (id >= 0) { out.push_back(id); return; }
  }
  if (!cut_at_metaspace_) { encode_piece(word, out); return; }
  size_t start = 0;
  for (size_t at = word.find(kMetaspace, 1); at != std::string_view::npos; at = word.find(kMetaspace, at + 1)) {
    if (after_metaspace(word, at) || !can_cut_before(word, at)) continue;  // inside a run of "▁", or unsafe
    encode_piece(word.substr(start, at - start), out);
    start = at;
  }
  encode_piece(word.substr(start), out);
}

void Bpe::encode_piece(std::string_view word, std::vector<int32_t>& out) const {
  const bool cacheable = word.size() <= WordCache::kMaxWordBytes;
  WordCache* cache = nullptr;
  uint64_t h = 0;
  if (cacheable) {
    cache = &WordCache::for_model(serial_);
    h = WordCache::hash(word);
    const auto hit = cache->find(word, h);
    if (!hit.empty()) { out.insert(out.end(), hit.begin(), hit.end()); return; }
  }
  thread_local std::vector<int32_t> syms;
  initial_symbols(word, syms);
  if (syms.size() <= 64) merge_small(syms);
  else merge_heap(syms);
  if (cache) cache->insert(word, h, syms);
  out.insert(out.end(), syms.begin(), syms.end());
}

}  // namespace cloze::tok
