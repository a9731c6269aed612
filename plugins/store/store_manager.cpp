// The key-value store manager. Events (with the configured prefix, default
// "store"): set, get, delete, incr, list; each response echoes the request's
// `context`; every change is published as `<prefix>.changed {key, op}`.
#include "kv_store.hpp"

#include <edri/edri.hpp>

#include <chrono>

namespace {

using edri::GenericEvent;
using edri::json;
using edri::Reply;
using edri_store::StoreError;

std::int64_t realtime_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string key_of(const json& d) {
  if (!d.is_object() || !d.contains("key") || !d["key"].is_string()) {
    throw StoreError("missing 'key' (a string)");
  }
  return d["key"].get<std::string>();
}

std::optional<std::int64_t> int_field(const json& d, const char* name) {
  if (!d.is_object() || !d.contains(name) || d[name].is_null()) return std::nullopt;
  const json& v = d[name];
  // An unsigned past INT64_MAX would wrap to a negative number.
  if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<std::uint64_t>() > INT64_MAX)) {
    throw StoreError(std::string("'") + name + "' must be an integer from -2^63 to 2^63-1");
  }
  return v.get<std::int64_t>();
}

class StoreManager : public edri::Manager {
 public:
  static edri::ConfigSchema config_schema() {
    using edri::FieldType;
    return edri::ConfigSchema{}
        .field("events", FieldType::string, "store", "event type prefix: <events>.get, <events>.set, ...")
        .field("path", FieldType::string, "", "LMDB directory; empty keeps the store in memory")
        .field("map_size_mb", FieldType::integer, 1024, "largest size the LMDB file may grow to")
        .field("max_key_bytes", FieldType::integer, 511, "longest key accepted (at most 511 with a path: LMDB's limit)")
        .field("max_value_bytes", FieldType::integer, 1048576, "largest value accepted (as JSON text)")
        .field("max_list", FieldType::integer, 10000, "most items one list returns")
        .field("sweep_ms", FieldType::integer, 1000, "how often expired keys are removed and announced");
  }

  StoreManager(edri::Context& ctx, const edri::Config& config)
      : Manager(ctx), prefix_(config.get<std::string>("events")), store_(open(config)),
        sweep_(config.get<std::int64_t>("sweep_ms")) {
    if (sweep_.count() < 1) throw edri::ConfigError("sweep_ms", "sweep_ms must be at least 1");
    serve("set", [this](const json& d, json& out) {
      const auto key = key_of(d);
      if (!d.contains("value")) throw StoreError("missing 'value'");
      store_.set(key, d["value"], int_field(d, "ttl_ms"));
      out["key"] = key;
      changed(key, "set");
    });
    serve("get", [this](const json& d, json& out) {
      const auto key = key_of(d);
      auto v = store_.get(key);
      out["key"] = key;
      out["found"] = v.has_value();
      out["value"] = v ? std::move(*v) : json();
    });
    serve("delete", [this](const json& d, json& out) {
      const auto key = key_of(d);
      const bool deleted = store_.erase(key);
      out["key"] = key;
      out["deleted"] = deleted;
      if (deleted) changed(key, "delete");
    });
    serve("incr", [this](const json& d, json& out) {
      const auto key = key_of(d);
      out["key"] = key;
      out["value"] = store_.incr(key, int_field(d, "by").value_or(1));
      changed(key, "incr");
    });
    serve("list", [this](const json& d, json& out) {
      std::string prefix;
      if (d.is_object() && d.contains("prefix")) {
        if (!d["prefix"].is_string()) throw StoreError("'prefix' must be a string");
        prefix = d["prefix"].get<std::string>();
      }
      bool truncated = false;
      json items = json::array();
      for (auto& [k, v] : store_.list(prefix, &truncated)) items.push_back({{"key", k}, {"value", std::move(v)}});
      out["items"] = std::move(items);
      out["truncated"] = truncated;
    });
  }

  void after_start() override {
    sweeper_ = ctx().every(sweep_, [this] {
      for (const auto& key : store_.sweep()) changed(key, "expired");
    });
  }

 private:
  static edri_store::KvStore open(const edri::Config& config) {
    edri_store::Limits limits;
    limits.max_key_bytes = static_cast<std::size_t>(positive(config, "max_key_bytes"));
    limits.max_value_bytes = static_cast<std::size_t>(positive(config, "max_value_bytes"));
    limits.max_list = static_cast<std::size_t>(positive(config, "max_list"));
    const auto path = config.get<std::string>("path");
    std::unique_ptr<edri_store::Backend> backend;
    if (path.empty()) {
      backend = edri_store::make_memory_backend();
    } else {
      try {
        backend = edri_store::make_lmdb_backend(
            path, static_cast<std::size_t>(positive(config, "map_size_mb")) << 20);
      } catch (const std::exception& e) {
        throw edri::ConfigError("path", e.what());
      }
    }
    try {
      return edri_store::KvStore(std::move(backend), limits, &realtime_ms);
    } catch (const std::invalid_argument& e) {
      throw edri::ConfigError("max_key_bytes", e.what());
    }
  }

  static std::int64_t positive(const edri::Config& config, const char* key) {
    const auto v = config.get<std::int64_t>(key);
    if (v < 1) throw edri::ConfigError(key, std::string(key) + " must be at least 1");
    return v;
  }

  // Answers <prefix>.<op>: fills the response object, echoes `context`, and
  // turns refused input into an `error` response that changes nothing.
  template <class F>
  void serve(const std::string& op, F fn) {
    ctx().on_request(prefix_ + "." + op, [fn](const GenericEvent& ev, Reply<json>& reply) {
      const json& d = ev.data();
      json out = json::object();
      try {
        fn(d, out);
      } catch (const StoreError& e) {
        reply.error(e.what());
        return;
      }
      if (d.is_object() && d.contains("context")) out["context"] = d["context"];
      reply.set(std::move(out));
    });
  }

  void changed(const std::string& key, const char* op) {
    ctx().notify(prefix_ + ".changed", {{"key", key}, {"op", op}});
  }

  std::string prefix_;
  edri_store::KvStore store_;
  std::chrono::milliseconds sweep_;
  edri::TimerId sweeper_ = 0;
};

}  // namespace

EDRI_PLUGIN(StoreManager, "store", "1.0.0")
