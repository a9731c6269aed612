// One end of the socket between edrid and a worker process: frames out
// from several threads, frames in on one.
#pragma once

#include "codec/frame_splitter.hpp"
#include "exec/worker_protocol.hpp"

#include <mutex>
#include <optional>
#include <string>

namespace edrid::worker {

// The sending side, shared by several writer threads. shutdown() ends both
// directions (a blocked reader sees EOF) but keeps the descriptor, so only
// its reader closes it; sends fail after either.
class Channel {
 public:
  explicit Channel(int fd) : fd_(fd) {}
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;
  bool send(const Frame& frame);
  void shutdown();
  void close();
  int fd() const noexcept { return fd_; }

 private:
  std::mutex mutex_;
  int fd_;
  bool shut_ = false;
  bool closed_ = false;
};

// The receiving side: blocking reads, split into frames without trusting
// a length before checking it.
class FrameStream {
 public:
  explicit FrameStream(int fd) : fd_(fd), splitter_(kMaxFrame) {}
  // The next frame (its views valid until the next call), or nullopt at
  // end of stream (empty *error) or on a read error or bad frame.
  std::optional<Frame> next(std::string* error);

 private:
  int fd_;
  codec::FrameSplitter splitter_;
};

}  // namespace edrid::worker
