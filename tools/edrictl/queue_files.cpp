#include "queue_files.hpp"

#include "event/ids.hpp"
#include "manager/durable_queue.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <stdexcept>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace edrictl {
namespace {

using nlohmann::json;

json record_json(std::uint64_t key, const edrid::JournalRecord& r) {
  const auto& h = r.event->header;
  json payload;
  if (const auto* enc = edrid::event_encoded(r.event.get()); enc && !enc->empty()) {
    try {
      payload = json::from_msgpack(enc->data(), enc->data() + enc->size());
    } catch (const json::exception& e) {
      payload = std::string("(not MessagePack: ") + e.what() + ")";
    }
  }
  return {{"key", key},
          {"type", h.type ? h.type : ""},
          {"kind", h.kind == EDRI_KIND_REQUEST ? "request" : "notification"},
          {"attempt", edrid::event_attempt(*r.event)},
          {"priority", r.priority},
          {"id", edrid::to_hex(h.id)},
          {"trace_id", edrid::to_hex(h.trace_id)},
          {"timestamp_ns", h.timestamp_ns},
          {"origin_router", h.origin_router ? h.origin_router : ""},
          {"sender", h.sender ? h.sender : ""},
          {"payload", payload}};
}

// True when an edrid holds the queue (its edrid.lock is locked).
bool in_use(const std::filesystem::path& dir) {
  const int fd = ::open((dir / "edrid.lock").c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  const bool held = ::flock(fd, LOCK_EX | LOCK_NB) != 0;
  ::close(fd);
  return held;
}

}  // namespace

int queue_command(const std::vector<std::string>& words, long count) {
  if (words.size() != 3 || (words[1] != "inspect" && words[1] != "aside")) {
    throw std::invalid_argument("usage: edrictl queue inspect|aside DIR");
  }
  const std::filesystem::path dir = words[2];
  if (words[1] == "inspect") {
    const auto report = edrid::DurableQueue::inspect(dir, count < 0 ? 10 : static_cast<std::size_t>(count));
    json first = json::array();
    for (const auto& [key, rec] : report.first) first.push_back(record_json(key, rec));
    std::cout << json{{"path", (dir / "data.mdb").string()},
                      {"in_use", in_use(dir)},
                      {"records", report.records},
                      {"bytes", report.bytes},
                      {"problem", report.problem.empty() ? json(nullptr) : json(report.problem)},
                      {"first", first}}
                     .dump(2)
              << "\n";
    return report.problem.empty() ? 0 : 1;
  }
  if (!std::filesystem::is_directory(dir)) {
    std::cerr << "edrictl: " << dir.string() << " is not a directory\n";
    return 1;
  }
  if (in_use(dir)) {
    std::cerr << "edrictl: an edrid uses " << dir.string() << "; stop it first\n";
    return 1;
  }
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", std::gmtime(&now));
  auto to = dir;
  to += std::string(".aside-") + stamp;
  std::filesystem::rename(dir, to);
  std::cout << to.string() << "\n";
  return 0;
}

}  // namespace edrictl
