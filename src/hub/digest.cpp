// sha256 / git blob sha1 through OpenSSL's EVP interface (hardware
// accelerated where the CPU has SHA extensions; a 1 GB model hashes in ~1 s).
#include "hub/digest.h"

#include <openssl/evp.h>

#include <fstream>
#include <memory>
#include <vector>

#include "cloze/error.h"

namespace cloze::hub {

namespace {

using Ctx = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

Ctx new_ctx(const EVP_MD* md) {
  Ctx ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1) throw Error("OpenSSL: cannot start a digest");
  return ctx;
}

std::string finish(EVP_MD_CTX* ctx) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(ctx, md, &n) != 1) throw Error("OpenSSL: cannot finish a digest");
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

void update_from_file(EVP_MD_CTX* ctx, const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open '" + path.string() + "' to check its checksum");
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0) EVP_DigestUpdate(ctx, buf.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) throw Error("cannot read '" + path.string() + "' to check its checksum");
}

// Git hashes a blob as sha1("blob " + decimal size + '\0' + content).
void git_header(EVP_MD_CTX* ctx, uint64_t size) {
  const std::string h = "blob " + std::to_string(size);
  EVP_DigestUpdate(ctx, h.data(), h.size() + 1);  // with the terminating NUL
}

}  // namespace

std::string sha256_file(const std::filesystem::path& path) {
  auto ctx = new_ctx(EVP_sha256());
  update_from_file(ctx.get(), path);
  return finish(ctx.get());
}

std::string git_blob_sha1_file(const std::filesystem::path& path) {
  auto ctx = new_ctx(EVP_sha1());
  git_header(ctx.get(), std::filesystem::file_size(path));
  update_from_file(ctx.get(), path);
  return finish(ctx.get());
}

std::string sha256_hex(std::string_view data) {
  auto ctx = new_ctx(EVP_sha256());
  EVP_DigestUpdate(ctx.get(), data.data(), data.size());
  return finish(ctx.get());
}

std::string git_blob_sha1_hex(std::string_view data) {
  auto ctx = new_ctx(EVP_sha1());
  git_header(ctx.get(), data.size());
  EVP_DigestUpdate(ctx.get(), data.data(), data.size());
  return finish(ctx.get());
}

bool is_hex(std::string_view s, size_t n) {
  if (s.size() != n) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace cloze::hub
