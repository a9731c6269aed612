// Answers demo.ping requests with a demo.pong.
#include <demo/events.hpp>
#include <edri/edri.hpp>

namespace {

class PongManager : public edri::Manager {
 public:
  PongManager(edri::Context& ctx, const edri::Config&) : Manager(ctx) {
    ctx.on_request<demo::Ping>([this](const demo::Ping& p, edri::Reply<demo::Pong>& reply) {
      ++answered_;
      reply.set(demo::Pong{p.seq, ctx_name()});
    });
  }

  void stop() override { log().info("answered ", answered_, " pings"); }

 private:
  const std::string& ctx_name() { return ctx().name(); }
  std::uint64_t answered_ = 0;
};

}  // namespace

EDRI_PLUGIN(PongManager, "pong", "1.0.0")
