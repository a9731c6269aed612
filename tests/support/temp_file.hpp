// A file in a fresh temporary directory, removed with the object.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

namespace probe {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "edri-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  // EDRI_KEEP_TEST_DIRS=1 keeps them (and the logs of the processes a test
  // started) for a look after a failure.
  ~TempDir() {
    if (std::getenv("EDRI_KEEP_TEST_DIRS")) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::filesystem::path write(const std::string& name, const std::string& text) const {
    auto p = path_ / name;
    std::ofstream(p) << text;
    return p;
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace probe
