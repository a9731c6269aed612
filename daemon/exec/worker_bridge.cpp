#include "exec/worker_bridge.hpp"

#include "exec/execution_site.hpp"
#include "exec/worker_channel.hpp"
#include "log/logging.hpp"
#include "plugin/dispatch_context.hpp"
#include "plugin/host_backend.hpp"
#include "tunnel/tunnel_table.hpp"

#include <optional>

#include <spdlog/spdlog.h>

namespace edrid {
namespace {

// A request a worker sent: its responses go back over the worker's channel.
struct WorkerRequest {
  std::shared_ptr<worker::Channel> channel;
  std::uint64_t rid;
};

// The send options a worker's notify or request frame carries.
edri_send_options send_options_of(const worker::SendOptions& f) {
  edri_send_options o{sizeof(edri_send_options), f.priority, f.has_priority, f.timeout_ms, f.flags, 0, {0, 0},
                      f.dedupe_key.empty() ? nullptr : f.dedupe_key.c_str()};
  if (f.trace) {
    o.has_trace_id = 1;
    o.trace_id = *f.trace;
  }
  return o;
}

void answer_worker(void* user, const edri_event* resp, int is_last) {
  auto* r = static_cast<WorkerRequest*>(user);
  const auto& h = resp->header;
  worker::Response f{r->rid, h.status, h.message ? h.message : "", h.sender ? h.sender : "", h.type ? h.type : "",
                     h.id, h.correlation_id, is_last != 0, std::nullopt};
  std::string err;
  f.payload = worker::payload_of(*resp, &err);
  if (!f.payload) {
    f.status = EDRI_STATUS_ERROR;
    f.message = err;
  }
  r->channel->send(f);  // a worker that is gone no longer cares
  if (is_last) delete r;
}

// The tunnel a worker's frame is about, for the frames that name one.
std::optional<edri_id128> tunnel_of(const worker::Frame& frame) {
  return std::visit(
      [](const auto& f) -> std::optional<edri_id128> {
        if constexpr (requires { f.tid; f.side; }) {
          return f.tid;
        } else {
          return std::nullopt;
        }
      },
      frame);
}

}  // namespace

// The way to tunnel ends whose handlers run in one worker: frames on its
// channel, in the order the tunnel produced them.
class WorkerBridge::TunnelFrames final : public TunnelSink {
 public:
  explicit TunnelFrames(std::shared_ptr<worker::Channel> ch) : channel_(std::move(ch)) {}
  void message(const edri_id128& tid, int side, const std::uint8_t* data, std::size_t len) override {
    channel_->send(worker::TunnelMsg{tid, side, std::string_view(reinterpret_cast<const char*>(data), len)});
  }
  void credit(const edri_id128& tid, int side, std::size_t bytes) override {
    channel_->send(worker::TunnelCredit{tid, side, bytes});
  }
  void peer_closed(const edri_id128& tid, int side, std::uint32_t status, const std::string& reason,
                   bool over) override {
    channel_->send(worker::TunnelPeerClosed{tid, side, status, reason, over});
  }
  void opened(std::uint64_t rid, std::uint32_t status, const std::string& reason, const Tunnel* t) {
    channel_->send(worker::TunnelOpened{rid, status, reason, t ? t->id() : edri_id128{0, 0}, t ? t->window() : 0});
  }

 private:
  std::shared_ptr<worker::Channel> channel_;
};

WorkerBridge::WorkerBridge(ExecutionSite& site, pid_t pid, std::shared_ptr<worker::Channel> channel)
    : site_(site), pid_(pid), channel_(channel), tunnels_(std::make_shared<TunnelFrames>(std::move(channel))) {}

WorkerBridge::~WorkerBridge() = default;

void WorkerBridge::serve(const worker::Frame& frame, const Event* running) {
  DispatchScope scope(&site_.host(), running);
  std::optional<logging::TraceScope> trace;
  if (running) trace.emplace(running->header.trace_id);
  if (const auto* f = std::get_if<worker::Log>(&frame)) {
    site_.host().log(f->level, f->message);
  } else if (const auto* f = std::get_if<worker::Notify>(&frame)) {
    const edri_send_options o = send_options_of(f->options);
    std::uint32_t delivered = 0;
    const int rc = site_.host().notify(worker::event_of(f->payload), &o, &delivered);
    channel_->send(worker::Notified{f->rid, rc, delivered});
  } else if (const auto* f = std::get_if<worker::Request>(&frame)) {
    const edri_send_options o = send_options_of(f->options);
    auto* r = new WorkerRequest{channel_, f->rid};
    if (site_.host().request(worker::event_of(f->payload), &o, &answer_worker, r, EDRI_DELIVER_DIRECT, nullptr) ==
        EDRI_E_AGAIN) {
      // The worker's request already returned: it learns as a response.
      worker::Response refused;
      refused.rid = r->rid;
      refused.status = EDRI_STATUS_REJECTED;
      refused.message = "a receiver's queue is full (sent with no_wait)";
      channel_->send(refused);
      delete r;
    }
  } else {
    serve_tunnel(frame);
  }
}

void WorkerBridge::decide_tunnel(const Event& offer, const worker::TunnelDecision& decision) {
  if (offer.header.kind != EDRI_KIND_TUNNEL) return;
  auto t = site_.tunnels().find(offer.header.id);
  if (!t) return;
  if (decision.accepted) {
    if (!t->accept(TunnelBinding{&site_, {}, tunnels_})) {
      tunnels_->peer_closed(t->id(), Tunnel::kAcceptor, EDRI_STATUS_ERROR, "the opener gave up waiting", true);
    }
  } else {
    t->refuse(EDRI_STATUS_REJECTED, decision.reason.empty() ? std::string("refused") : std::string(decision.reason));
  }
}

void WorkerBridge::gone(const std::string& why) { site_.tunnels().sink_gone(tunnels_.get(), why); }

void WorkerBridge::serve_tunnel(const worker::Frame& frame) {
  if (const auto* f = std::get_if<worker::TunnelOpen>(&frame)) {
    auto sink = tunnels_;
    const std::uint64_t rid = f->rid;
    site_.open_tunnel(worker::event_of(f->payload), std::string(f->type), TunnelBinding{&site_, {}, sink},
                      f->timeout_ms,
                      [sink, rid](std::uint32_t status, const std::string& reason, std::shared_ptr<Tunnel> tn) {
                        sink->opened(rid, status, reason, tn.get());
                      });
    return;
  }
  const char* name = worker::frame_type_name(static_cast<std::uint8_t>(frame.index() + 1));
  const auto tid = tunnel_of(frame);
  if (!tid) {
    site_.logger().warn("worker {} sent a '{}' frame, which only edrid sends", pid_, name);
    return;
  }
  auto tunnel = site_.tunnels().find(*tid);
  if (!tunnel) return;  // over already: late frames are harmless
  // The side is the one this worker holds, whatever the frame says.
  const int side = tunnel->side_of(tunnels_.get());
  if (side < 0) {
    site_.logger().warn("worker {} sent '{}' for a tunnel it does not hold", pid_, name);
    return;
  }
  if (const auto* f = std::get_if<worker::TunnelSend>(&frame)) {
    std::string reason;
    tunnel->send(side, reinterpret_cast<const std::uint8_t*>(f->data.data()), f->data.size(), 0, &reason, true);
  } else if (const auto* f = std::get_if<worker::TunnelConsumed>(&frame)) {
    tunnel->consumed(side, f->bytes);
  } else if (std::holds_alternative<worker::TunnelShutdown>(frame)) {
    tunnel->shutdown(side);
  } else if (const auto* f = std::get_if<worker::TunnelClose>(&frame)) {
    tunnel->close(side, f->status, std::string(f->reason));
  } else if (std::holds_alternative<worker::TunnelRelease>(frame)) {
    tunnel->release(side);
  } else {
    site_.logger().warn("worker {} sent a '{}' frame, which only edrid sends", pid_, name);
  }
}

}  // namespace edrid
