#include "token_file.hpp"

#include <sys/stat.h>

#include <fstream>
#include <stdexcept>
#include <utility>

namespace edri_api {

TokenFile::TokenFile(std::string path) : path_(std::move(path)) {
  if (path_.empty()) return;
  stamp_ = stamp();
  tokens_ = read(path_);
  checked_ = std::chrono::steady_clock::now();
}

std::set<std::string, std::less<>> TokenFile::read(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read tokens_file " + path);
  std::set<std::string, std::less<>> out;
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty() && line[0] != '#') out.insert(line);
  }
  if (out.empty()) throw std::runtime_error("tokens_file " + path + " holds no token");
  return out;
}

TokenFile::Stamp TokenFile::stamp() const {
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) return {};
  return {st.st_mtim, st.st_size, st.st_ino};
}

void TokenFile::refresh_locked() {
  const auto now = std::chrono::steady_clock::now();
  if (now - checked_ < std::chrono::seconds(1)) return;
  checked_ = now;
  const Stamp s = stamp();
  if (s == stamp_) return;
  stamp_ = s;
  try {
    tokens_ = read(path_);
  } catch (const std::exception& e) {
    error_ = e.what();
  }
}

bool TokenFile::contains(std::string_view token) {
  std::lock_guard lock(mutex_);
  refresh_locked();
  return tokens_.find(token) != tokens_.end();
}

std::string TokenFile::take_error() {
  std::lock_guard lock(mutex_);
  return std::exchange(error_, {});
}

}  // namespace edri_api
