#pragma once
// Checksums the Hub names its files by: LFS files by the sha256 of their
// content, regular git files by their git blob sha1 ("blob <size>\0" + data).
#include <filesystem>
#include <string>
#include <string_view>

namespace cloze::hub {

// Lower-case hex digests of a file's bytes, read in chunks (files may be GBs).
std::string sha256_file(const std::filesystem::path& path);
std::string git_blob_sha1_file(const std::filesystem::path& path);

// The same over bytes in memory (tests and small files).
std::string sha256_hex(std::string_view data);
std::string git_blob_sha1_hex(std::string_view data);

// Whether `s` is `n` lower-case hex digits.
bool is_hex(std::string_view s, size_t n);

}  // namespace cloze::hub
