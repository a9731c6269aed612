// Exports a manager class as a plugin:
//
//   EDRI_PLUGIN(MyManager, "my_manager", "1.0.0")
//
// in exactly one source file of the plugin. The glue below turns the C
// descriptor calls into the C++ class and makes sure no exception crosses the
// C boundary.
#pragma once

#include <edri/manager.hpp>
#include <edri/version.hpp>

#include <cstdio>
#include <cstring>
#include <memory>

namespace edri::detail {

inline void fill_error(edri_error* err, const char* key, const char* message) noexcept {
  if (!err) return;
  std::snprintf(err->key, sizeof err->key, "%s", key ? key : "");
  std::snprintf(err->message, sizeof err->message, "%s", message ? message : "");
}

template <class M>
struct Instance {
  Instance(const edri_host_api* host, edri_host_ctx* ctx, const char* name)
      : context(host, ctx, name) {}
  Context context;
  std::unique_ptr<M> manager;
};

template <class M>
std::string schema_json() {
  if constexpr (requires { M::config_schema(); }) {
    return M::config_schema().to_json();
  } else {
    return ConfigSchema{}.to_json();
  }
}

// Runs f, turning any exception into a filled edri_error and a non-zero code.
template <class F>
int guarded(edri_error* err, F&& f) noexcept {
  try {
    f();
    return EDRI_OK;
  } catch (const ConfigError& e) {
    fill_error(err, e.key().c_str(), e.what());
  } catch (const std::exception& e) {
    fill_error(err, nullptr, e.what());
  } catch (...) {
    fill_error(err, nullptr, "unknown exception");
  }
  return -1;
}

template <class M>
struct Glue {
  static void* create(const edri_host_api* host, edri_host_ctx* ctx, const char* name,
                      const char* config, std::size_t len, edri_error* err) noexcept {
    Instance<M>* out = nullptr;
    guarded(err, [&] {
      auto inst = std::make_unique<Instance<M>>(host, ctx, name);
      Config cfg(len ? json::parse(config, config + len) : json::object());
      inst->manager = std::make_unique<M>(inst->context, cfg);
      out = inst.release();
    });
    return out;
  }
  static int start(void* p, edri_error* err) noexcept {
    return guarded(err, [&] { static_cast<Instance<M>*>(p)->manager->start(); });
  }
  static int after_start(void* p, edri_error* err) noexcept {
    return guarded(err, [&] { static_cast<Instance<M>*>(p)->manager->after_start(); });
  }
  static void stop(void* p) noexcept {
    auto* inst = static_cast<Instance<M>*>(p);
    edri_error err{sizeof(edri_error), {}, {}};
    if (guarded(&err, [&] { inst->manager->stop(); }) != EDRI_OK) {
      inst->context.log().error("stop failed: ", err.message);
    }
  }
  static void destroy(void* p) noexcept { delete static_cast<Instance<M>*>(p); }
  static int handle(void* p, std::uint32_t handler_id, const edri_event* ev,
                    edri_response* resp, edri_error* err) noexcept {
    return guarded(err, [&] { static_cast<Instance<M>*>(p)->context.dispatch(handler_id, ev, resp); });
  }
};

}  // namespace edri::detail

namespace edri {

// The descriptor of manager class M; EDRI_PLUGIN exports it. Tests use it
// directly to run a manager compiled into the test binary.
template <class M>
const edri_plugin_descriptor* descriptor_of(const char* name, const char* version) {
  static const std::string schema = detail::schema_json<M>();
  static const edri_plugin_descriptor d{
      EDRI_ABI_MAGIC,
      EDRI_ABI_MAJOR,
      EDRI_ABI_MINOR,
      sizeof(edri_plugin_descriptor),
      name,
      version,
      EDRI_SDK_VERSION,
      schema.c_str(),
      &detail::Glue<M>::create,
      &detail::Glue<M>::start,
      &detail::Glue<M>::after_start,
      &detail::Glue<M>::stop,
      &detail::Glue<M>::destroy,
      &detail::Glue<M>::handle,
  };
  return &d;
}

}  // namespace edri

#define EDRI_PLUGIN(ManagerClass, Name, Version)                                   \
  extern "C" EDRI_EXPORT const edri_plugin_descriptor* edri_plugin_entry(void) {   \
    return ::edri::descriptor_of<ManagerClass>(Name, Version);                     \
  }
