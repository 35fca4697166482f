// A model directory's tensors: model.safetensors, or the shards that
// model.safetensors.index.json lists.
#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "cloze/error.h"
#include "cloze/safetensors.h"

namespace cloze {

namespace fs = std::filesystem;
using json = nlohmann::json;

TensorStore TensorStore::open_dir(const fs::path& dir) {
  TensorStore store;
  store.dir_ = dir;
  const fs::path index_path = dir / "model.safetensors.index.json";
  const fs::path single = dir / "model.safetensors";
  // The error_code overloads: a permission problem must become a cloze::Error
  // naming the path, not a std::filesystem_error.
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(dir.string() + ": not a directory (expected a model directory)");
  if (fs::exists(index_path, ec)) {
    std::ifstream in(index_path);
    if (!in) throw Error(index_path.string() + ": cannot open");
    json idx;
    try {
      idx = json::parse(in);
    } catch (const json::exception& e) {
      throw Error(index_path.string() + ": not valid JSON (" + e.what() + ")");
    }
    if (!idx.is_object())
      throw Error(index_path.string() + ": must be a JSON object, found " + std::string(idx.type_name()));
    if (!idx.contains("weight_map") || !idx["weight_map"].is_object())
      throw Error(index_path.string() + ": missing object field 'weight_map' (tensor name -> shard file)");
    std::map<std::string, std::string> wanted;  // tensor -> shard file name
    std::set<std::string> shard_names;
    for (auto it = idx["weight_map"].begin(); it != idx["weight_map"].end(); ++it) {
      if (!it->is_string())
        throw Error(index_path.string() + ": weight_map['" + it.key() + "'] must be a file name string");
      std::string shard = it->get<std::string>();
      // A shard name must stay inside the model directory.
      if (shard.empty() || shard == "." || shard == ".." ||
          std::any_of(shard.begin(), shard.end(), [](char c) { return c == '/' || c == '\\' || c == '\0'; }))
        throw Error(index_path.string() + ": weight_map['" + it.key() + "'] names '" + shard +
                    "', which is not a file name in this directory");
      wanted[it.key()] = shard;
      shard_names.insert(shard);
    }
    if (wanted.empty()) throw Error(index_path.string() + ": weight_map is empty (lists no tensors)");
    std::map<std::string, std::shared_ptr<SafetensorsFile>> shards;
    for (const auto& name : shard_names) {
      fs::path p = dir / name;
      if (!fs::is_regular_file(p, ec))
        throw Error(index_path.string() + ": names shard '" + name + "', which does not exist in " + dir.string());
      shards[name] = SafetensorsFile::open(p);
      store.files_.push_back(shards[name]);
    }
    for (const auto& [tensor, shard] : wanted) {
      auto& tensors = shards[shard]->tensors();
      auto t = tensors.find(tensor);
      if (t == tensors.end())
        throw Error(index_path.string() + ": says tensor '" + tensor + "' is in " + shard + ", but it is not there");
      store.index_[tensor] = &t->second;
    }
    for (const auto& [name, file] : shards)
      for (const auto& [tensor, info] : file->tensors()) {
        auto w = wanted.find(tensor);
        if (w == wanted.end())
          throw Error((dir / name).string() + ": holds tensor '" + tensor + "', which " +
                      index_path.filename().string() + " does not list (stale or mismatched index)");
        // A tensor in two shards would make the loaded weights depend on
        // which copy the index happens to name.
        if (w->second != name)
          throw Error((dir / name).string() + ": also holds tensor '" + tensor + "', which " +
                      index_path.filename().string() + " places in " + w->second);
      }
  } else if (fs::exists(single, ec)) {
    auto f = std::shared_ptr<SafetensorsFile>(SafetensorsFile::open(single));
    store.files_.push_back(f);
    for (const auto& [name, info] : f->tensors()) store.index_[name] = &info;
  } else {
    throw Error(dir.string() + ": no model.safetensors or model.safetensors.index.json in this directory");
  }
  return store;
}

const TensorInfo* TensorStore::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : it->second;
}

const TensorInfo& TensorStore::get(const std::string& name) const {
  auto t = find(name);
  if (!t) throw Error(dir_.string() + ": checkpoint has no tensor '" + name + "'");
  return *t;
}

}  // namespace cloze
