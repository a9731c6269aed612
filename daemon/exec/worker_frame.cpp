#include "exec/worker_frame.hpp"

#include <edri/detail/msgpack_reader.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace edrid::worker {

std::string encode(const nlohmann::json& msg) {
  std::vector<std::uint8_t> body = nlohmann::json::to_msgpack(msg);
  const auto n = static_cast<std::uint32_t>(body.size());
  std::string out;
  out.reserve(4 + body.size());
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out.append(reinterpret_cast<const char*>(body.data()), body.size());
  return out;
}

std::optional<nlohmann::json> decode(const std::uint8_t* data, std::size_t len, std::string* error) {
  try {
    auto j = edri::detail::from_msgpack(data, len);
    if (!j.is_object() || !j.contains("t") || !j["t"].is_string()) {
      if (error) *error = "frame is not a message map";
      return std::nullopt;
    }
    return j;
  } catch (const edri::detail::MsgpackError& e) {
    if (error) *error = std::string("malformed frame: ") + e.what();
    return std::nullopt;
  } catch (const nlohmann::json::exception& e) {
    if (error) *error = std::string("malformed frame: ") + e.what();
    return std::nullopt;
  }
}

bool FrameReader::read_exact(void* buf, std::size_t n, std::string* error) {
  auto* p = static_cast<char*>(buf);
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::read(fd_, p + got, n - got);
    if (r > 0) {
      got += static_cast<std::size_t>(r);
    } else if (r == 0) {
      if (error) *error = got == 0 ? "" : "connection closed inside a frame";
      return false;
    } else if (errno != EINTR) {
      if (error) *error = std::string("read: ") + std::strerror(errno);
      return false;
    }
  }
  return true;
}

std::optional<nlohmann::json> FrameReader::next(std::string* error) {
  std::uint8_t head[4];
  if (!read_exact(head, 4, error)) return std::nullopt;
  const std::uint32_t n = head[0] | (head[1] << 8) | (head[2] << 16) |
                          (static_cast<std::uint32_t>(head[3]) << 24);
  if (n == 0 || n > kMaxFrame) {
    if (error) *error = "frame length " + std::to_string(n) + " out of range";
    return std::nullopt;
  }
  std::vector<std::uint8_t> body(n);
  if (!read_exact(body.data(), n, error)) {
    if (error && error->empty()) *error = "connection closed inside a frame";
    return std::nullopt;
  }
  return decode(body.data(), body.size(), error);
}

Channel::~Channel() { close(); }

bool Channel::send(const nlohmann::json& msg) {
  const std::string bytes = encode(msg);
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

bool put_payload(nlohmann::json& msg, const Event& ev, std::string* error) {
  const EncodedPayload* enc = event_encoded(&ev, error);
  if (!enc) return false;
  msg["payload_type"] = ev.payload_type;
  if (ev.shareable) msg["shared"] = true;
  if (enc->empty()) {
    msg["payload"] = nullptr;
  } else {
    msg["payload"] = nlohmann::json::binary(std::vector<std::uint8_t>(enc->data(), enc->data() + enc->size()));
  }
  return true;
}

EventPtr take_payload(const nlohmann::json& msg) {
  std::string type = msg.value("payload_type", "");
  const auto& p = msg.contains("payload") ? msg["payload"] : nlohmann::json();
  EventPtr ev;
  if (p.is_binary()) {
    const auto& b = p.get_binary();
    ev = EventPtr(event_from_bytes(std::move(type), b.data(), b.size()));
  } else {
    ev = EventPtr(event_from_bytes(std::move(type), nullptr, 0));
  }
  ev->shareable = msg.value("shared", false);
  return ev;
}

nlohmann::json id_json(const edri_id128& id) { return nlohmann::json::array({id.hi, id.lo}); }

edri_id128 id_of(const nlohmann::json& j) {
  return j.is_array() && j.size() == 2 && j[0].is_number_unsigned() && j[1].is_number_unsigned()
             ? edri_id128{j[0].get<std::uint64_t>(), j[1].get<std::uint64_t>()}
             : edri_id128{0, 0};
}

}  // namespace edrid::worker
