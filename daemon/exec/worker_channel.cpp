#include "exec/worker_channel.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace edrid::worker {

Channel::~Channel() { close(); }

bool Channel::send(const Frame& frame) {
  const std::string bytes = encode(frame);
  std::lock_guard lock(mutex_);
  if (shut_ || closed_) return false;
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t r = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (r > 0) {
      sent += static_cast<std::size_t>(r);
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else {
      return false;
    }
  }
  return true;
}

void Channel::shutdown() {
  std::lock_guard lock(mutex_);
  if (shut_ || closed_) return;
  shut_ = true;
  ::shutdown(fd_, SHUT_RDWR);
}

void Channel::close() {
  std::lock_guard lock(mutex_);
  if (closed_) return;
  closed_ = true;
  ::close(fd_);
}

std::optional<Frame> FrameStream::next(std::string* error) {
  for (;;) {
    codec::FrameSplitter::Frame f{};
    switch (splitter_.next(f, error)) {
      case codec::FrameSplitter::Next::frame: return decode(f.type, f.body, f.len, error);
      case codec::FrameSplitter::Next::error: return std::nullopt;
      case codec::FrameSplitter::Next::need_more: break;
    }
    // A burst of large frames must not pin their buffer for the worker's
    // lifetime.
    splitter_.release_if_empty(1u << 20);
    std::uint8_t buf[64 * 1024];
    const ssize_t r = ::read(fd_, buf, sizeof buf);
    if (r > 0) {
      splitter_.feed(buf, static_cast<std::size_t>(r));
    } else if (r == 0) {
      if (error) *error = splitter_.buffered() == 0 ? "" : "connection closed inside a frame";
      return std::nullopt;
    } else if (errno != EINTR) {
      if (error) *error = std::string("read: ") + std::strerror(errno);
      return std::nullopt;
    }
  }
}

}  // namespace edrid::worker
