// Base class for managers. A manager is a class with a constructor taking
// (edri::Context&, const edri::Config&), an optional static config_schema(),
// and the lifecycle hooks below; export it with EDRI_PLUGIN (edri/plugin.hpp).
//
//   class Echo : public edri::Manager {
//    public:
//     Echo(edri::Context& ctx, const edri::Config&) : Manager(ctx) {
//       ctx.on_request<demo::Echo>([](const demo::Echo& e, edri::Reply<demo::Echo>& r) {
//         r.set(e);
//       });
//     }
//   };
#pragma once

#include <edri/config.hpp>
#include <edri/context.hpp>

namespace edri {

class Manager {
 public:
  explicit Manager(Context& ctx) noexcept : ctx_(ctx) {}
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;
  virtual ~Manager() = default;

  // Called in dependency order once every manager is constructed. Events sent
  // here may find their receivers not yet started; send from after_start().
  virtual void start() {}
  // Called when every manager has started; may send events.
  virtual void after_start() {}
  // Called in reverse order at shutdown, after this manager's queue drained.
  virtual void stop() {}

 protected:
  Context& ctx() noexcept { return ctx_; }
  Logger& log() noexcept { return ctx_.log(); }

 private:
  Context& ctx_;
};

}  // namespace edri
