// The webhook manager: POSTs edri events to URLs subscribed to type
// patterns (lonelypsc's push delivery). Each POST carries the event's data
// as JSON and is signed: X-Edri-Signature = "sha256=" + hex HMAC-SHA256 of
// "<X-Edri-Timestamp>.<body>" with the secret, so a receiver can check who
// sent it and refuse replays. Retries, their backoff and dead letters are
// edri's own (delivery: at_least_once, max_deliveries, retry): a POST that
// got no answer, a 408, 429 or 5xx fails the delivery; a 429 or 503 with
// Retry-After waits that long; any other 4xx is the receiver's final no,
// counted and not retried. URLs that already took an event are not POSTed
// to again when another URL of the same pattern made it go again.
#include "http_poster.hpp"
#include "webhook_settings.hpp"

#include <edri/edri.hpp>

#include <openssl/hmac.h>

#include <atomic>
#include <ctime>
#include <deque>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <unordered_set>

namespace {

using edri::GenericEvent;
using edri::json;
using namespace edri_bridge;

std::string read_secret(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot be read");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string hmac_hex(const std::string& key, const std::string& text) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(text.data()),
       text.size(), mac, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[mac[i] >> 4]);
    out.push_back(kHex[mac[i] & 15]);
  }
  return out;
}

struct HookStats {
  std::atomic<std::uint64_t> delivered{0}, failed{0}, rejected{0};
  std::atomic<int> last_status{0};
};

// One subscribed URL, and the connection to its destination.
struct Target {
  Hook hook;
  HookStats stats;
  std::mutex mutex;  // one POST at a time on its connection
  std::unique_ptr<HttpPoster> poster;
};

class WebhookManager : public edri::Manager {
 public:
  static edri::ConfigSchema config_schema() {
    using edri::FieldType;
    return edri::ConfigSchema{}
        .field("hooks", FieldType::any, json::array(), "[{type: pattern, url: http(s)://…, headers: {name: value}}]")
        .field("secret_file", FieldType::string, json(), "HMAC-SHA256 key (16 bytes or more) signing every POST")
        .field("timeout_ms", FieldType::integer, 5000, "connect, send and answer of one POST")
        .field("ca_file", FieldType::string, json(), "https: the CA bundle to trust instead of the system's")
        .field("max_hooks", FieldType::integer, 1000, "hooks from the config and at run time together")
        .field("events", FieldType::string, json(), "run-time requests: <events>.subscribe, .unsubscribe, .list, .stats "
                                                    "(default: the manager's name)");
  }

  WebhookManager(edri::Context& ctx, const edri::Config& config) : Manager(ctx), settings_(read(config, ctx.name())) {
    for (const auto& h : settings_.hooks) {
      std::lock_guard lock(targets_mutex_);
      add(h);
    }
    serve("subscribe", [this](const json& d) {
      Hook h = parse_hook(d, "subscribe");
      std::lock_guard lock(targets_mutex_);
      for (const auto& t : targets_) {
        if (t->hook.pattern == h.pattern && t->hook.url.text == h.url.text) return describe(*t);
      }
      if (targets_.size() >= settings_.max_hooks) throw SettingsError("", "max_hooks reached");
      return describe(add(h));
    });
    serve("unsubscribe", [this](const json& d) {
      const std::string type = d.value("type", ""), url = d.value("url", "");
      std::lock_guard lock(targets_mutex_);
      const auto before = targets_.size();
      std::erase_if(targets_, [&](const auto& t) { return t->hook.pattern == type && t->hook.url.text == url; });
      bool left = false;
      for (const auto& t : targets_) left = left || t->hook.pattern == type;
      if (!left && before != targets_.size()) ctx_unsubscribe(type);
      return json{{"removed", before != targets_.size()}};
    });
    serve("list", [this](const json&) {
      std::lock_guard lock(targets_mutex_);
      json all = json::array();
      for (const auto& t : targets_) all.push_back(describe(*t));
      return json{{"hooks", std::move(all)}};
    });
    serve("stats", [this](const json&) {
      std::lock_guard lock(targets_mutex_);
      json all = json::array();
      for (const auto& t : targets_) all.push_back(describe(*t));
      return json{{"hooks", std::move(all)}, {"signed", !settings_.secret.empty()}};
    });
  }

 private:
  static WebhookSettings read(const edri::Config& config, const std::string& name) {
    try {
      return parse_webhook_settings(config.raw(), name, read_secret);
    } catch (const SettingsError& e) {
      throw edri::ConfigError(e.key(), e.what());
    }
  }

  template <class F>
  void serve(const std::string& op, F fn) {
    ctx().on_request(settings_.events + "." + op, [fn](const GenericEvent& ev, edri::Reply<json>& reply) {
      try {
        reply.set(fn(ev.data()));
      } catch (const SettingsError& e) {
        reply.error(e.what());
      }
    });
  }

  void ctx_unsubscribe(const std::string& pattern) { ctx().unsubscribe(EDRI_KIND_NOTIFICATION, pattern); }

  static json describe(const Target& t) {
    return {{"type", t.hook.pattern},
            {"url", t.hook.url.text},
            {"delivered", t.stats.delivered.load()},
            {"failed", t.stats.failed.load()},
            {"rejected", t.stats.rejected.load()},
            {"last_status", t.stats.last_status.load()}};
  }

  // Called with targets_mutex_ held.
  Target& add(const Hook& h) {
    auto t = std::make_shared<Target>();
    t->hook = h;
    t->poster = std::make_unique<HttpPoster>(h.url, settings_.ca_file);
    bool known = false;
    for (const auto& o : targets_) known = known || o->hook.pattern == h.pattern;
    targets_.push_back(t);
    if (!known) {
      const std::string pattern = h.pattern;
      ctx().on_notification(pattern, [this, pattern](const GenericEvent& ev) { deliver(pattern, ev); });
    }
    return *t;
  }

  // Every URL of `pattern` gets the event once; one that fails makes the
  // delivery fail (and go again) without POSTing again to the others.
  void deliver(const std::string& pattern, const GenericEvent& ev) {
    const auto info = ev.info();
    const std::string id = info.id();
    const std::string body = ev.data().dump();
    const std::string ts = std::to_string(std::time(nullptr));
    std::map<std::string, std::string> headers{
        {"X-Edri-Event-Id", id},
        {"X-Edri-Type", std::string(ev.type())},
        {"X-Edri-Timestamp", ts},
        {"X-Edri-Attempt", std::to_string(ctx().attempt())},
        {"traceparent", "00-" + info.trace_id() + "-" + id.substr(0, 16) + "-01"}};
    if (!settings_.secret.empty()) headers["X-Edri-Signature"] = "sha256=" + hmac_hex(settings_.secret, ts + "." + body);

    std::vector<std::shared_ptr<Target>> targets;
    {
      // Handlers may run on several threads (executor: thread) while a
      // subscribe changes the list: each delivery works on its own copy.
      std::lock_guard lock(targets_mutex_);
      for (const auto& t : targets_) {
        if (t->hook.pattern == pattern) targets.push_back(t);
      }
    }
    std::string failure;
    std::chrono::milliseconds wait{-1};
    for (const auto& t : targets) {
      const std::string key = id + " " + t->hook.url.text;
      if (done_before(key)) continue;
      auto h = headers;
      for (const auto& [k, v] : t->hook.headers) h[k] = v;
      PostResult r;
      {
        std::lock_guard lock(t->mutex);
        r = t->poster->post(t->hook.url.target, h, body, settings_.timeout);
      }
      t->stats.last_status = r.status;
      if (r.status >= 200 && r.status < 300) {
        t->stats.delivered.fetch_add(1);
        remember(key);
        continue;
      }
      const bool again = r.status == 0 || r.status == 408 || r.status == 429 || r.status >= 500;
      if (!again) {
        t->stats.rejected.fetch_add(1);
        remember(key);  // the receiver's final no: not asked again
        log().warn("webhook ", t->hook.url.text, " refused ", ev.type(), " ", id, " with HTTP ", r.status,
                   "; not retried");
        continue;
      }
      t->stats.failed.fetch_add(1);
      if ((r.status == 429 || r.status == 503) && r.retry_after.count() >= 0) wait = std::max(wait, r.retry_after);
      failure += (failure.empty() ? "" : "; ") + t->hook.url.text + ": " +
                 (r.status ? "HTTP " + std::to_string(r.status) : r.error);
    }
    if (failure.empty()) return;
    if (wait.count() >= 0 && ctx().retry_later(wait)) return;
    throw std::runtime_error("webhook POST failed: " + failure);
  }

  bool done_before(const std::string& key) {
    std::lock_guard lock(done_mutex_);
    return done_.contains(key);
  }
  // Bounded: enough for the deliveries that may still go again.
  void remember(const std::string& key) {
    std::lock_guard lock(done_mutex_);
    if (!done_.insert(key).second) return;
    order_.push_back(key);
    if (order_.size() > 100000) {
      done_.erase(order_.front());
      order_.pop_front();
    }
  }

  WebhookSettings settings_;
  std::mutex targets_mutex_;
  std::vector<std::shared_ptr<Target>> targets_;
  std::mutex done_mutex_;
  std::unordered_set<std::string> done_;
  std::deque<std::string> order_;
};

}  // namespace

EDRI_PLUGIN(WebhookManager, "webhook", "1.0.0")
