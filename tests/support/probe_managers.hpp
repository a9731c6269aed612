// Managers compiled into the test binary and run by an in-process Router,
// with a registry the test reads to see what each one received.
#pragma once

#include <edri/edri.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace probe {

struct Seen {
  std::string manager;
  std::string type;
  edri::json data;
  std::string trace_id;
  int priority = 0;
};

// What every probe manager saw, in order, plus a gate handlers can wait on.
class Registry {
 public:
  static Registry& get() {
    static Registry r;
    return r;
  }
  void reset() {
    std::lock_guard lock(m_);
    seen_.clear();
    contexts_.clear();
    gate_open_ = true;
  }
  void record(Seen s) {
    {
      std::lock_guard lock(m_);
      seen_.push_back(std::move(s));
    }
    cv_.notify_all();
  }
  std::vector<Seen> seen(const std::string& manager = {}) {
    std::lock_guard lock(m_);
    std::vector<Seen> out;
    for (const auto& s : seen_) {
      if (manager.empty() || s.manager == manager) out.push_back(s);
    }
    return out;
  }
  // Waits until `manager` has seen n events; false on timeout.
  bool wait_for(const std::string& manager, std::size_t n,
                std::chrono::milliseconds within = std::chrono::seconds(5)) {
    std::unique_lock lock(m_);
    return cv_.wait_for(lock, within, [&] {
      std::size_t c = 0;
      for (const auto& s : seen_) c += s.manager == manager;
      return c >= n;
    });
  }
  void close_gate() {
    std::lock_guard lock(m_);
    gate_open_ = false;
  }
  void open_gate() {
    {
      std::lock_guard lock(m_);
      gate_open_ = true;
    }
    cv_.notify_all();
  }
  void wait_gate() {
    std::unique_lock lock(m_);
    cv_.wait(lock, [&] { return gate_open_; });
  }
  void set_context(const std::string& name, edri::Context* ctx) {
    std::lock_guard lock(m_);
    contexts_[name] = ctx;
  }
  edri::Context& context(const std::string& name) {
    std::lock_guard lock(m_);
    return *contexts_.at(name);
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  std::vector<Seen> seen_;
  std::map<std::string, edri::Context*> contexts_;
  bool gate_open_ = true;
};

inline Seen seen_of(const std::string& manager, const edri::GenericEvent& ev) {
  return {manager, std::string(ev.type()), ev.data(), ev.info().trace_id(), ev.info().priority()};
}

// Config: {"notifications": [patterns], "requests": [patterns],
//          "gate": bool (wait on the registry gate in each handler),
//          "throw_on": "text" (throw when data.text equals it),
//          "sleep_ms": int, "forward": "type" (request this type from a handler)}
class Probe : public edri::Manager {
 public:
  Probe(edri::Context& ctx, const edri::Config& cfg) : Manager(ctx), cfg_(cfg.raw()) {
    Registry::get().set_context(ctx.name(), &ctx);
    for (const auto& p : cfg_.value("notifications", edri::json::array())) {
      ctx.on_notification(p.get<std::string>(), [this](const edri::GenericEvent& ev) {
        work(ev);
      });
    }
    for (const auto& p : cfg_.value("requests", edri::json::array())) {
      ctx.on_request(p.get<std::string>(),
                     [this](const edri::GenericEvent& ev, edri::Reply<edri::json>& reply) {
                       work(ev);
                       reply.set({{"by", this->ctx().name()}, {"echo", ev.data()}});
                     });
    }
  }

 private:
  void work(const edri::GenericEvent& ev) {
    if (cfg_.value("gate", false)) Registry::get().wait_gate();
    if (auto ms = cfg_.value("sleep_ms", 0)) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    const auto& d = ev.data();
    if (cfg_.contains("throw_on") && d.is_object() && d.value("text", "") == cfg_["throw_on"]) {
      throw std::runtime_error("probe refuses '" + d.value("text", "") + "'");
    }
    if (cfg_.contains("forward")) {
      auto f = ctx().request(cfg_["forward"].get<std::string>(), d);
      (void)f;  // the forwarded request's response is not awaited
    }
    Registry::get().record(seen_of(ctx().name(), ev));
  }

  edri::json cfg_;
};

// Registers two request handlers for the same type: must be refused.
class Duplicate : public edri::Manager {
 public:
  Duplicate(edri::Context& ctx, const edri::Config&) : Manager(ctx) {
    ctx.on_request("dup.x", [](const edri::GenericEvent&, edri::Reply<edri::json>&) {});
    ctx.on_request("dup.x", [](const edri::GenericEvent&, edri::Reply<edri::json>&) {});
  }
};

}  // namespace probe
