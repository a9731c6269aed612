// Tunnels: ordered, flow-controlled, two-way streams between two managers.
//
//   // Serving side, in the manager's constructor:
//   ctx.on_tunnel("convert.image", [this](edri::TunnelOffer& offer) {
//     if (!ready_) return offer.refuse("not ready");
//     tunnel_ = offer.accept({.on_message = [this](edri::Bytes b) { ... },
//                             .on_peer_closed = [this](edri::Status s, std::string_view why) { ... }});
//   });
//   // Opening side, anywhere in the manager (it blocks until accepted or refused):
//   auto opened = ctx.open_tunnel("convert.image", {{"format", "png"}}, handlers);
//   if (!opened) log().warn("refused: ", opened.reason);
//   opened.tunnel->send(bytes);      // waits while the peer's window is full
//   opened.tunnel->shutdown();       // half-close: no more sending, still receiving
//
// Messages arrive in order, one at a time, on the receiving manager's
// executor (its thread pool or worker process); returning from on_message
// gives the sender credit for more. Destroying the Tunnel lets go of the end
// (closing the tunnel if it is still open).
#pragma once

#include <edri/abi.h>
#include <edri/event.hpp>
#include <edri/event_ref.hpp>
#include <edri/log.hpp>
#include <edri/status.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace edri {

using Bytes = std::span<const std::uint8_t>;

struct TunnelHandlers {
  // A message from the peer; the bytes are valid during the call.
  std::function<void(Bytes)> on_message;
  // The peer sends nothing more: ok (it finished or closed), or error with
  // why (it closed with an error, its worker died, the tunnel idled out).
  std::function<void(Status, std::string_view reason)> on_peer_closed;
};

// A typed message's MessagePack encoding, and back.
template <TypedEvent T>
std::vector<std::uint8_t> encode(const T& value) {
  std::vector<std::uint8_t> out;
  detail::MsgpackWriter w(out);
  detail::write_msgpack_value(w, value);
  return out;
}
template <TypedEvent T>
T decode(Bytes bytes) {
  return detail::read_msgpack<T>(bytes.data(), bytes.size());
}

// One end of an open tunnel.
class Tunnel {
 public:
  Tunnel(const edri_host_api* host, edri_tunnel* t) : host_(host), t_(t) {}
  ~Tunnel() { host_->tunnel_release(t_); }
  Tunnel(const Tunnel&) = delete;
  Tunnel& operator=(const Tunnel&) = delete;

  // Sends one message, waiting while the peer's window is full. False when
  // the tunnel is closed (or this end shut down); last_error() says why.
  bool send(Bytes data) { return send_for(data, std::chrono::milliseconds(0)); }
  bool send(std::string_view text) {
    return send(Bytes(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  }
  template <TypedEvent T>
  bool send(const T& value) {
    const auto bytes = encode(value);
    return send(Bytes(bytes));
  }
  // Waits at most `timeout` for credit (0 = no limit, negative = not at
  // all); false with last_error() "the peer's window is full" when it ran out.
  bool send_for(Bytes data, std::chrono::milliseconds timeout) {
    edri_error err{sizeof(edri_error), {}, {}};
    const int rc = host_->tunnel_send(t_, data.data(), data.size(), timeout.count(), &err);
    if (rc == EDRI_OK) return true;
    last_error_ = err.message[0] ? err.message : rc == EDRI_E_AGAIN ? "the peer's window is full" : "closed";
    return false;
  }
  // Half-close: this end sends nothing more and keeps receiving.
  void shutdown() { host_->tunnel_shutdown(t_); }
  // Ends both directions; the peer hears ok.
  void close() { host_->tunnel_close(t_, EDRI_STATUS_OK, ""); }
  // Ends both directions; the peer hears error with `reason`.
  void close_with_error(std::string_view reason) {
    host_->tunnel_close(t_, EDRI_STATUS_ERROR, std::string(reason).c_str());
  }
  const std::string& last_error() const noexcept { return last_error_; }

 private:
  const edri_host_api* host_;
  edri_tunnel* t_;
  std::string last_error_;
};

namespace detail {
// The C handlers for a TunnelHandlers, owned by the host until release.
struct TunnelBox {
  TunnelHandlers h;
  Logger* log;

  static edri_tunnel_handlers make(TunnelBox* box) {
    edri_tunnel_handlers c{};
    c.struct_size = sizeof c;
    c.user = box;
    c.on_message = [](void* user, const std::uint8_t* data, std::size_t len) {
      auto* b = static_cast<TunnelBox*>(user);
      try {
        if (b->h.on_message) b->h.on_message(Bytes(data, len));
      } catch (const std::exception& e) {
        b->log->error("tunnel on_message threw: ", e.what());
      }
    };
    c.on_peer_closed = [](void* user, std::uint32_t status, const char* reason) {
      auto* b = static_cast<TunnelBox*>(user);
      try {
        if (b->h.on_peer_closed) b->h.on_peer_closed(static_cast<Status>(status), reason ? reason : "");
      } catch (const std::exception& e) {
        b->log->error("tunnel on_peer_closed threw: ", e.what());
      }
    };
    c.release = [](void* user) { delete static_cast<TunnelBox*>(user); };
    return c;
  }
};
}  // namespace detail

// A tunnel offered to this manager; decide inside the handler.
class TunnelOffer {
 public:
  TunnelOffer(const edri_host_api* host, edri_host_ctx* ctx, const edri_event* ev, Logger* log)
      : host_(host), ctx_(ctx), ev_(ev), event_(host, ev), log_(log) {}
  // The opener's initial data, and who opened it.
  const json& data() const { return event_.data(); }
  template <TypedEvent T>
  T data_as() const {
    return event_.data().get<T>();
  }
  EventInfo info() const { return event_.info(); }
  std::string_view type() const { return event_.type(); }

  // Accepts; nullptr when the opener already gave up waiting.
  std::shared_ptr<Tunnel> accept(TunnelHandlers handlers) {
    auto* box = new detail::TunnelBox{std::move(handlers), log_};
    const auto c = detail::TunnelBox::make(box);
    edri_tunnel* t = host_->tunnel_accept(ctx_, ev_, &c);
    if (!t) {
      delete box;
      return nullptr;
    }
    return std::make_shared<Tunnel>(host_, t);
  }
  void refuse(std::string_view reason) { host_->tunnel_refuse(ctx_, ev_, std::string(reason).c_str()); }

 private:
  const edri_host_api* host_;
  edri_host_ctx* ctx_;
  const edri_event* ev_;
  GenericEvent event_;
  Logger* log_;
};

// What open_tunnel gives back: the tunnel, or why there is none.
struct OpenedTunnel {
  std::shared_ptr<Tunnel> tunnel;
  Status status = Status::error;
  std::string reason;
  explicit operator bool() const noexcept { return tunnel != nullptr; }
  Tunnel* operator->() const noexcept { return tunnel.get(); }
};

}  // namespace edri
