#include "token_file.hpp"

#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <vector>
#include <stdexcept>
#include <utility>

namespace edri_api {

TokenFile::TokenFile(std::string path) : path_(std::move(path)) {
  if (path_.empty()) return;
  stamp_ = stamp();
  tokens_ = read(path_);
  checked_ = std::chrono::steady_clock::now();
}

TokenFile::Table TokenFile::read(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read tokens_file " + path);
  Table out;
  int number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    std::istringstream words(line);
    std::string token;
    if (!(words >> token) || token[0] == '#') continue;
    std::vector<std::string> patterns;
    for (std::string p; words >> p;) patterns.push_back(p);
    try {
      out[token] = patterns.empty() ? nullptr : std::make_shared<const ExposePolicy>(std::move(patterns));
    } catch (const std::invalid_argument& e) {
      throw std::runtime_error("tokens_file " + path + " line " + std::to_string(number) + ": " + e.what());
    }
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

TokenFile::Lookup TokenFile::find(std::string_view token) {
  std::lock_guard lock(mutex_);
  refresh_locked();
  auto it = tokens_.find(token);
  if (it == tokens_.end()) return {};
  return {true, it->second};
}

std::string TokenFile::take_error() {
  std::lock_guard lock(mutex_);
  return std::exchange(error_, {});
}

}  // namespace edri_api
