// Frames between edrid and its worker processes: a 4-byte little-endian
// length, then one MessagePack map. Payloads travel inside as binary.
// Reading is bounded (kMaxFrame) and never trusts the length before checking it.
#pragma once

#include "event/event.hpp"

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace edrid::worker {

constexpr std::uint32_t kMaxFrame = 64u << 20;

// A frame ready to write.
std::string encode(const nlohmann::json& msg);
// Parses one frame body; nullopt (and *error) when it is not a MessagePack map.
std::optional<nlohmann::json> decode(const std::uint8_t* data, std::size_t len, std::string* error);

// Blocking reader of whole frames from a stream socket.
class FrameReader {
 public:
  explicit FrameReader(int fd) : fd_(fd) {}
  // The next frame, or nullopt at EOF (empty *error) or on a bad frame.
  std::optional<nlohmann::json> next(std::string* error);

 private:
  bool read_exact(void* buf, std::size_t n, std::string* error);
  int fd_;
};

// A socket shared by several writer threads. shutdown() ends both
// directions (a blocked reader sees EOF) but keeps the descriptor, so only
// its reader closes it; writes fail after either.
class Channel {
 public:
  explicit Channel(int fd) : fd_(fd) {}
  ~Channel();
  bool send(const nlohmann::json& msg);
  void shutdown();
  void close();
  int fd() const noexcept { return fd_; }

 private:
  std::mutex mutex_;
  int fd_;
  bool shut_ = false;
  bool closed_ = false;
};

// An event's payload as frame fields: payload_type and payload (binary, or
// null when empty). Returns false (with *error) if it cannot be encoded.
bool put_payload(nlohmann::json& msg, const Event& ev, std::string* error);
// A new event holding the payload fields of msg.
EventPtr take_payload(const nlohmann::json& msg);

// 128-bit ids in frames: [hi, lo]; anything else reads as {0, 0}.
nlohmann::json id_json(const edri_id128& id);
edri_id128 id_of(const nlohmann::json& j);

}  // namespace edrid::worker
