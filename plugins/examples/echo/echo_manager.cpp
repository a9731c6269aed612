// Answers demo.echo {text} with the same data.
#include <demo/events.hpp>
#include <edri/edri.hpp>

namespace {

class EchoManager : public edri::Manager {
 public:
  EchoManager(edri::Context& ctx, const edri::Config&) : Manager(ctx) {
    ctx.on_request<demo::Echo>(
        [](const demo::Echo& e, edri::Reply<demo::Echo>& reply) { reply.set(e); });
  }
};

}  // namespace

EDRI_PLUGIN(EchoManager, "echo", "1.0.0")
