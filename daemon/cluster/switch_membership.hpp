// The routers a switch has linked and what each subscribes to, kept in a
// file under the state directory. A restarted switch reads it before any
// router is back, so it keeps taking events for every known router (into that
// router's replay buffer, as for one that crashed) and tells each router the
// others' interest: without it, a router that re-attached first would be told
// "nobody subscribes", and the events it resent would go nowhere.
#pragma once

#include "cluster/wire.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace edrid::cluster {

struct Member {
  std::string id;
  std::vector<SubscriptionEntry> entries;
  bool operator==(const Member&) const = default;
};

class MembershipFile {
 public:
  // An empty path keeps nothing.
  explicit MembershipFile(std::filesystem::path path) : path_(std::move(path)) {}

  const std::filesystem::path& path() const noexcept { return path_; }
  // What the last run kept; empty when there is no file. A file that cannot
  // be read or parsed is logged (naming it) and ignored: membership comes
  // back as routers reconnect, only the head start is lost.
  std::vector<Member> load() const;
  // Replaces the file's content (written beside it, then renamed, so a crash
  // leaves the old or the new one whole). Failures are logged, never thrown:
  // this runs on the switch's io thread.
  void save(const std::vector<Member>& members) const;

 private:
  std::filesystem::path path_;
};

}  // namespace edrid::cluster
