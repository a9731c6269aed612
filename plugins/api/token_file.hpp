// Bearer tokens from a file, one per line (`#` starts a comment): the token,
// then optionally the type patterns it is limited to on /events and the
// WebSocket (`orders-svc orders.> store.get`; none: whatever `expose` allows).
// Read again whenever the file changes: removing a line revokes that token within
// a second, with no reload or restart. A file that cannot be read or holds
// no token keeps the tokens read last (logged by the caller), so a
// half-written file never opens the api.
#pragma once

#include "expose_policy.hpp"

#include <sys/types.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace edri_api {

class TokenFile {
 public:
  // Reads `path`; throws std::runtime_error when it cannot be read or holds
  // no token. An empty path means no authentication: enabled() is false.
  explicit TokenFile(std::string path);

  bool enabled() const noexcept { return !path_.empty(); }
  struct Lookup {
    bool known = false;
    // The patterns the token is limited to; null: not limited.
    std::shared_ptr<const ExposePolicy> scope;
  };
  // Whether `token` is listed and what it may reach, after re-reading the
  // file if it changed (looked at no more than once per second). Any thread.
  Lookup find(std::string_view token);
  bool contains(std::string_view token) { return find(token).known; }
  // Why the last re-read failed, once (then ""): the caller logs it. A file
  // that fails is tried again when it changes again.
  std::string take_error();

 private:
  struct Stamp {
    std::timespec mtime{};
    off_t size = -1;
    ino_t inode = 0;
    bool operator==(const Stamp& o) const noexcept {
      return mtime.tv_sec == o.mtime.tv_sec && mtime.tv_nsec == o.mtime.tv_nsec && size == o.size && inode == o.inode;
    }
  };
  using Table = std::map<std::string, std::shared_ptr<const ExposePolicy>, std::less<>>;
  static Table read(const std::string& path);
  Stamp stamp() const;
  void refresh_locked();

  std::string path_;
  mutable std::mutex mutex_;
  Table tokens_;
  Stamp stamp_;
  std::chrono::steady_clock::time_point checked_;
  std::string error_;
};

}  // namespace edri_api
