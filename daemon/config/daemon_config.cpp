#include "config/daemon_config.hpp"

#include "cluster/link_auth.hpp"
#include "cluster/link_tls.hpp"
#include "config/yaml_reader.hpp"

#include <yaml-cpp/depthguard.h>
#include "event/pattern.hpp"

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>

namespace edrid {
namespace {

bool valid_manager_name(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

std::string host_name() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "edrid";
  return buf;
}

// Reads an optional duration in milliseconds (at most one day) into target.
void read_ms(YamlReader& r, const YAML::Node& parent, const char* key, const std::string& what,
             std::int64_t min, std::chrono::milliseconds& target) {
  if (!parent[key]) return;
  if (auto v = r.integer(parent[key], what, min, 86'400'000)) target = std::chrono::milliseconds(*v);
}

void read_router(YamlReader& r, const YAML::Node& n, DaemonConfig& out) {
  if (!r.map(n, "router", {"id", "log", "plugin_dirs", "state_dir", "request_timeout_ms", "stop_grace_ms",
                           "liveness", "tunnels"})) {
    return;
  }
  if (n["id"]) {
    if (auto v = r.str(n["id"], "router.id")) {
      if (valid_manager_name(*v)) {
        out.router.id = *v;
      } else {
        r.error(n["id"], "router.id must be 1-64 characters of [A-Za-z0-9_-]");
      }
    }
  }
  if (const auto log = n["log"]) {
    if (r.map(log, "router.log", {"level", "format"})) {
      if (log["level"]) {
        if (auto v = r.one_of(log["level"], "router.log.level",
                              {"trace", "debug", "info", "warn", "error", "critical", "off"})) {
          out.log.level = *v;
        }
      }
      if (log["format"]) {
        if (auto v = r.one_of(log["format"], "router.log.format", {"text", "json"})) {
          out.log.format = *v;
        }
      }
    }
  }
  if (n["plugin_dirs"]) {
    if (auto dirs = r.string_list(n["plugin_dirs"], "router.plugin_dirs")) {
      const auto base = out.file.parent_path();
      for (const auto& d : *dirs) {
        std::filesystem::path p = d;
        out.plugin_dirs.push_back(p.is_relative() ? (base / p).lexically_normal() : p);
      }
    }
  }
  if (n["state_dir"]) {
    if (auto v = r.str(n["state_dir"], "router.state_dir")) {
      std::filesystem::path p = *v;
      if (v->empty()) {
        r.error(n["state_dir"], "router.state_dir must not be empty");
      } else {
        out.state_dir = p.is_relative() ? (out.file.parent_path() / p).lexically_normal() : p;
      }
    }
  }
  if (const auto t = n["tunnels"]) {
    if (r.map(t, "router.tunnels", {"window_bytes", "idle_timeout_ms"})) {
      if (t["window_bytes"]) {
        if (auto v = r.integer(t["window_bytes"], "router.tunnels.window_bytes", 1024, 1ll << 32)) {
          out.router.tunnels.window = static_cast<std::size_t>(*v);
        }
      }
      read_ms(r, t, "idle_timeout_ms", "router.tunnels.idle_timeout_ms", 10, out.router.tunnels.idle_timeout);
    }
  }
  read_ms(r, n, "request_timeout_ms", "router.request_timeout_ms", 1, out.router.request_timeout);
  read_ms(r, n, "stop_grace_ms", "router.stop_grace_ms", 0, out.router.stop_grace);
  if (const auto l = n["liveness"]) {
    if (r.map(l, "router.liveness", {"interval_ms", "warning_ms", "error_ms", "stats_log_ms"})) {
      read_ms(r, l, "interval_ms", "router.liveness.interval_ms", 10, out.router.liveness_interval);
      read_ms(r, l, "warning_ms", "router.liveness.warning_ms", 1, out.router.liveness_warning);
      read_ms(r, l, "error_ms", "router.liveness.error_ms", 1, out.router.liveness_error);
      read_ms(r, l, "stats_log_ms", "router.liveness.stats_log_ms", 0, out.router.stats_log);
      if (out.router.liveness_error < out.router.liveness_warning) {
        r.error(l, "router.liveness.error_ms must not be below warning_ms");
      }
    }
  }
}

// A map of type pattern → value, in file order: a pattern that does not
// parse is an error at its key; `take` reads each value (named what.pattern).
template <class Take>
void read_pattern_map(YamlReader& r, const YAML::Node& map, const std::string& what, Take take) {
  for (const auto& kv : map) {
    auto text = r.str(kv.first, what + " pattern");
    if (!text) continue;
    std::string error;
    auto pattern = Pattern::parse(*text, &error);
    if (!pattern) {
      r.error(kv.first, what + ": bad pattern '" + *text + "': " + error);
      continue;
    }
    take(std::move(*pattern), kv.second, what + "." + *text);
  }
}

void read_durable(YamlReader& r, const YAML::Node& n, DurableSettings& d) {
  if (n["durable"]) {
    if (auto v = r.boolean(n["durable"], "queue.durable")) d.enabled = *v;
  }
  for (const char* key : {"sync", "batch_ms", "max_bytes"}) {
    if (n[key] && !d.enabled) r.error(n[key], std::string("queue.") + key + " needs queue.durable: true");
  }
  if (n["sync"]) {
    if (auto v = r.one_of(n["sync"], "queue.sync", {"always", "batch", "os"})) {
      d.sync = *v == "always" ? SyncPolicy::always : *v == "batch" ? SyncPolicy::batch : SyncPolicy::os;
    }
  }
  if (n["batch_ms"]) {
    if (d.sync != SyncPolicy::batch) r.error(n["batch_ms"], "queue.batch_ms needs queue.sync: batch");
    if (auto v = r.integer(n["batch_ms"], "queue.batch_ms", 1, 10'000)) d.batch = std::chrono::milliseconds(*v);
  }
  if (n["max_bytes"]) {
    // LMDB reserves the whole map as address space, never as memory.
    if (auto v = r.integer(n["max_bytes"], "queue.max_bytes", 1 << 20, std::int64_t{1} << 44)) {
      d.max_bytes = static_cast<std::uint64_t>(*v);
    }
  }
}

void read_queue(YamlReader& r, const YAML::Node& n, QueueSettings& q) {
  if (!r.map(n, "queue", {"type", "capacity", "when_full", "priorities", "durable", "sync", "batch_ms", "max_bytes"})) {
    return;
  }
  read_durable(r, n, q.durable);
  if (n["type"]) {
    if (auto v = r.one_of(n["type"], "queue.type", {"fifo", "priority"})) {
      q.order = *v == "fifo" ? QueueOrder::fifo : QueueOrder::priority;
    }
  }
  if (n["capacity"]) {
    if (auto v = r.integer(n["capacity"], "queue.capacity", 1, 100'000'000)) {
      q.capacity = static_cast<std::size_t>(*v);
    }
  }
  if (n["when_full"]) {
    if (auto v = r.one_of(n["when_full"], "queue.when_full", {"block", "reject", "drop_oldest"})) {
      q.when_full = *v == "block" ? WhenFull::block
                    : *v == "reject" ? WhenFull::reject
                                     : WhenFull::drop_oldest;
    }
  }
  if (const auto ps = n["priorities"]) {
    if (!ps.IsMap()) {
      r.error(ps, "queue.priorities must be a map of type pattern to priority (lower is sooner)");
      return;
    }
    if (q.order != QueueOrder::priority) r.error(ps, "queue.priorities needs queue.type priority");
    read_pattern_map(r, ps, "queue.priorities", [&](Pattern p, const YAML::Node& v, const std::string& what) {
      if (auto prio = r.integer(v, what, -1'000'000, 1'000'000)) {
        q.priorities.push_back(TypePriority{std::move(p), static_cast<std::int32_t>(*prio)});
      }
    });
  }
}

void read_executor(YamlReader& r, const YAML::Node& n, ExecutorSettings& e) {
  if (!r.map(n, "executor", {"type", "workers", "ordering", "timeout_ms"})) return;
  if (n["type"]) {
    if (auto v = r.one_of(n["type"], "executor.type", {"inline", "thread", "process"})) {
      e.kind = *v == "inline" ? ExecutorKind::inline_call
               : *v == "thread" ? ExecutorKind::thread
                                : ExecutorKind::process;
    }
  }
  if (n["workers"]) {
    if (auto v = r.integer(n["workers"], "executor.workers", 1, 1024)) {
      e.workers = static_cast<std::size_t>(*v);
    }
  }
  if (n["ordering"]) {
    if (auto v = r.one_of(n["ordering"], "executor.ordering", {"sequential", "concurrent"})) {
      e.ordering = *v == "sequential" ? Ordering::sequential : Ordering::concurrent;
    }
  }
  if (n["timeout_ms"]) {
    if (auto v = r.integer(n["timeout_ms"], "executor.timeout_ms", 0, 86'400'000)) {
      e.timeout = std::chrono::milliseconds(*v);
      // A thread cannot be stopped from outside; only a process can be killed.
      if (*v > 0 && e.kind != ExecutorKind::process) {
        r.error(n["timeout_ms"], "executor.timeout_ms needs executor.type process (threads cannot be killed)");
      }
    }
  }
  if (e.kind == ExecutorKind::inline_call && n["workers"] && e.workers != 1) {
    r.error(n["workers"], "executor.workers needs executor.type thread or process");
  }
}

// The YAML node a filter compile error points at: `path` from the filter's
// root, as far as the document has it.
// Rebinds with reset(): assigning one bound yaml-cpp node to another would
// overwrite the document's node instead.
YAML::Node node_at(YAML::Node n, const std::vector<std::string>& path) {
  for (std::size_t depth = 0; depth < path.size(); ++depth) {
    const std::string& part = path[depth];
    bool found = false;
    if (n.IsMap()) {
      for (const auto& kv : n) {
        if (!kv.first.IsScalar() || kv.first.Scalar() != part) continue;
        // The key, for a bad key or operator; its value to go deeper.
        n.reset(depth + 1 == path.size() ? kv.first : kv.second);
        found = true;
        break;
      }
    } else if (n.IsSequence()) {
      char* end = nullptr;
      const unsigned long i = std::strtoul(part.c_str(), &end, 10);
      if (end && *end == '\0' && i < n.size()) {
        n.reset(n[i]);
        found = true;
      }
    }
    if (!found) break;
  }
  return n;
}

void read_filters(YamlReader& r, const YAML::Node& fs, WorkSettings& w) {
  if (!fs.IsMap()) {
    r.error(fs, "filters must be a map of type pattern to filter (docs/configuration.md, content filters)");
    return;
  }
  read_pattern_map(r, fs, "filters", [&](Pattern p, const YAML::Node& v, const std::string& what) {
    auto spec = r.any(v, what);
    if (!spec) return;
    try {
      w.filters.push_back(TypeFilter{std::move(p), ContentFilter::compile(*spec)});
    } catch (const FilterError& e) {
      r.error(node_at(v, e.path()), what + ": " + e.what());
    }
  });
}

void read_work(YamlReader& r, const YAML::Node& item, WorkSettings& w) {
  if (const auto fs = item["filters"]) read_filters(r, fs, w);
  if (item["group"]) {
    if (auto v = r.str(item["group"], "group")) {
      if (!valid_manager_name(*v)) {
        r.error(item["group"], "group name '" + *v + "' must be 1-64 characters of [A-Za-z0-9_-]");
      }
      w.group = *v;
    }
  }
  auto mode = [&](const YAML::Node& n, const std::string& what) -> std::optional<DeliveryMode> {
    auto v = r.one_of(n, what, {"at_most_once", "at_least_once"});
    if (!v) return std::nullopt;
    return *v == "at_least_once" ? DeliveryMode::at_least_once : DeliveryMode::at_most_once;
  };
  if (const auto d = item["delivery"]; d && d.IsMap()) {
    // Per type: {"orders.>": at_least_once, ...}; the first match decides,
    // types none matches are at most once.
    read_pattern_map(r, d, "delivery", [&](Pattern p, const YAML::Node& v, const std::string& what) {
      if (auto m = mode(v, what)) w.delivery_by_type.emplace_back(std::move(p), *m);
    });
  } else if (d) {
    if (auto m = mode(d, "delivery")) w.delivery = *m;
  }
  // Redelivery settings without redelivery would be silently ignored.
  auto needs_redelivery = [&](const char* key) {
    if (item[key] && !w.any_at_least_once()) r.error(item[key], std::string(key) + " needs delivery: at_least_once");
  };
  needs_redelivery("max_deliveries");
  needs_redelivery("retry");
  if (item["dedupe_ms"]) {
    if (auto v = r.integer(item["dedupe_ms"], "dedupe_ms", 0, 86'400'000)) w.dedupe = std::chrono::milliseconds(*v);
  }
  if (item["max_deliveries"]) {
    if (auto v = r.integer(item["max_deliveries"], "max_deliveries", 1, 1000)) {
      w.max_deliveries = static_cast<std::uint32_t>(*v);
    }
  }
  if (const auto n = item["retry"]) {
    if (!r.map(n, "retry", {"initial_ms", "max_ms", "multiplier"})) return;
    if (n["initial_ms"]) {
      if (auto v = r.integer(n["initial_ms"], "retry.initial_ms", 0, 86'400'000)) w.retry.initial = std::chrono::milliseconds(*v);
    }
    if (n["max_ms"]) {
      if (auto v = r.integer(n["max_ms"], "retry.max_ms", 0, 86'400'000)) w.retry.max = std::chrono::milliseconds(*v);
    }
    if (n["multiplier"]) {
      if (auto v = r.number(n["multiplier"], "retry.multiplier", 1.0, 100.0)) w.retry.multiplier = *v;
    }
    if (w.retry.max < w.retry.initial) r.error(n, "retry.max_ms must not be below retry.initial_ms");
  }
}

// "host:port" (IPv6 as "[::1]:7400").
bool read_endpoint(YamlReader& r, const YAML::Node& n, const std::string& what, std::string& host,
                   std::uint16_t& port) {
  auto v = r.str(n, what);
  if (!v) return false;
  const auto colon = v->rfind(':');
  std::string h = colon == std::string::npos ? "" : v->substr(0, colon);
  const std::string p = colon == std::string::npos ? "" : v->substr(colon + 1);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  char* end = nullptr;
  const long num = p.empty() ? -1 : std::strtol(p.c_str(), &end, 10);
  if (h.empty() || !end || *end != '\0' || num < 0 || num > 65535) {
    r.error(n, what + " must be host:port (port 0-65535), got '" + *v + "'");
    return false;
  }
  host = h;
  port = static_cast<std::uint16_t>(num);
  return true;
}

// The keys switch: and connector: share.
void read_link(YamlReader& r, const YAML::Node& n, const std::string& section, const std::filesystem::path& base,
               cluster::LinkSettings& link) {
  if (n["secret_file"]) {
    if (auto v = r.str(n["secret_file"], section + ".secret_file")) {
      std::filesystem::path p = *v;
      if (p.is_relative()) p = base / p;
      try {
        link.secret = cluster::read_secret_file(p);
      } catch (const std::exception& e) {
        r.error(n["secret_file"], e.what());
      }
    }
  }
  if (n["insecure"]) {
    if (auto v = r.boolean(n["insecure"], section + ".insecure")) link.insecure = *v;
  }
  if (const auto t = n["tls"]) {
    if (r.map(t, section + ".tls", {"cert", "key", "ca", "server_name"})) {
      link.tls.enabled = true;
      for (auto [key, path] : {std::pair{"cert", &link.tls.cert}, {"key", &link.tls.key}, {"ca", &link.tls.ca}}) {
        if (!t[key]) continue;
        if (auto v = r.str(t[key], section + ".tls." + key)) {
          *path = *v;
          if (path->is_relative()) *path = base / *path;
        }
      }
      if (t["server_name"]) {
        if (auto v = r.str(t["server_name"], section + ".tls.server_name")) link.tls.server_name = *v;
      }
      // Loaded here, so that a certificate that does not load is an error at
      // its line, not at start.
      try {
        cluster::make_tls_context(link.tls, section == "switch");
      } catch (const std::exception& e) {
        r.error(t, e.what());
      }
    }
  }
  read_ms(r, n, "heartbeat_ms", section + ".heartbeat_ms", 10, link.heartbeat);
  read_ms(r, n, "dead_peer_ms", section + ".dead_peer_ms", 50, link.dead_peer);
  if (link.dead_peer <= link.heartbeat && n["dead_peer_ms"]) {
    r.error(n["dead_peer_ms"], section + ".dead_peer_ms must be above heartbeat_ms");
  }
  if (n["coalesce_us"]) {
    if (auto v = r.integer(n["coalesce_us"], section + ".coalesce_us", 0, 100'000)) {
      link.coalesce = std::chrono::microseconds(*v);
    }
  }
  if (n["max_frame_bytes"]) {
    if (auto v = r.integer(n["max_frame_bytes"], section + ".max_frame_bytes", 4096, 1ll << 30)) {
      link.max_frame = static_cast<std::uint32_t>(*v);
    }
  }
  if (const auto rp = n["replay"]) {
    if (r.map(rp, section + ".replay", {"max_bytes", "max_age_ms", "window_bytes"})) {
      if (rp["max_bytes"]) {
        if (auto v = r.integer(rp["max_bytes"], section + ".replay.max_bytes", 1024, 1ll << 40)) {
          link.replay.max_bytes = static_cast<std::size_t>(*v);
        }
      }
      if (rp["window_bytes"]) {
        if (auto v = r.integer(rp["window_bytes"], section + ".replay.window_bytes", 1024, 1ll << 40)) {
          link.replay.window_bytes = static_cast<std::size_t>(*v);
        }
      }
      read_ms(r, rp, "max_age_ms", section + ".replay.max_age_ms", 10, link.replay.max_age);
    }
  }
}

void read_switch(YamlReader& r, const YAML::Node& n, DaemonConfig& out) {
  if (!r.map(n, "switch", {"listen", "secret_file", "insecure", "tls", "heartbeat_ms", "dead_peer_ms", "settle_ms",
                           "replay", "max_frame_bytes", "coalesce_us"})) {
    return;
  }
  cluster::SwitchSettings s;
  if (n["listen"]) read_endpoint(r, n["listen"], "switch.listen", s.host, s.port);
  read_link(r, n, "switch", out.file.parent_path(), s.link);
  read_ms(r, n, "settle_ms", "switch.settle_ms", 0, s.settle);
  out.switch_settings = std::move(s);
}

void read_connector(YamlReader& r, const YAML::Node& n, DaemonConfig& out) {
  if (!r.map(n, "connector", {"switch", "secret_file", "insecure", "tls", "heartbeat_ms", "dead_peer_ms", "reconnect",
                              "replay", "max_frame_bytes", "coalesce_us", "share", "local", "load_report_ms"})) {
    return;
  }
  cluster::ConnectorSettings c;
  if (!n["switch"]) {
    r.error(n, "connector needs 'switch' (host:port of the switch)");
  } else {
    read_endpoint(r, n["switch"], "connector.switch", c.host, c.port);
  }
  read_link(r, n, "connector", out.file.parent_path(), c.link);
  if (const auto rc = n["reconnect"]) {
    if (r.map(rc, "connector.reconnect", {"min_ms", "max_ms"})) {
      read_ms(r, rc, "min_ms", "connector.reconnect.min_ms", 1, c.reconnect_min);
      read_ms(r, rc, "max_ms", "connector.reconnect.max_ms", 1, c.reconnect_max);
      if (c.reconnect_max < c.reconnect_min) r.error(rc, "connector.reconnect.max_ms must not be below min_ms");
    }
  }
  read_ms(r, n, "load_report_ms", "connector.load_report_ms", 1, c.load_report);
  if (c.load_report > std::chrono::milliseconds(10'000)) {
    r.error(n["load_report_ms"], "connector.load_report_ms must be at most 10000");
  }
  for (const char* key : {"share", "local"}) {
    if (!n[key]) continue;
    auto list = r.string_list(n[key], std::string("connector.") + key);
    if (!list) continue;
    for (std::size_t i = 0; i < list->size(); ++i) {
      std::string error;
      if (!Pattern::parse((*list)[i], &error)) {
        r.error(n[key][i], "connector." + std::string(key) + ": bad pattern '" + (*list)[i] + "': " + error);
      }
    }
    (std::string(key) == "share" ? c.share : c.local) = std::move(*list);
  }
  out.connector = std::move(c);
}

void read_managers(YamlReader& r, const YAML::Node& n, DaemonConfig& out) {
  if (!n.IsSequence()) {
    r.error(n, "managers must be a list");
    return;
  }
  for (const auto& item : n) {
    if (!r.map(item, "manager",
               {"name", "plugin", "queue", "executor", "config", "group", "delivery", "max_deliveries", "retry",
                "dedupe_ms", "filters"})) {
      continue;
    }
    ManagerConfig m;
    m.mark = item.Mark();
    m.signature = YAML::Dump(item);
    if (!item["name"]) {
      r.error(item, "manager is missing 'name'");
    } else if (auto v = r.str(item["name"], "name")) {
      if (!valid_manager_name(*v)) {
        r.error(item["name"], "manager name '" + *v + "' must be 1-64 characters of [A-Za-z0-9_-]");
      }
      for (const auto& other : out.managers) {
        if (other.name == *v) r.error(item["name"], "manager name '" + *v + "' is used twice");
      }
      m.name = *v;
    }
    if (!item["plugin"]) {
      r.error(item, "manager '" + m.name + "' is missing 'plugin'");
    } else if (auto v = r.str(item["plugin"], "plugin")) {
      m.plugin = *v;
      m.plugin_mark = item["plugin"].Mark();
    }
    if (item["queue"]) read_queue(r, item["queue"], m.queue);
    if (item["executor"]) read_executor(r, item["executor"], m.executor);
    read_work(r, item, m.work);
    if (item["config"]) m.config = item["config"];
    out.managers.push_back(std::move(m));
  }
}

}  // namespace

std::filesystem::path default_state_dir() {
  auto env = [](const char* name) -> std::string {
    const char* v = std::getenv(name);
    return v ? v : "";
  };
  if (auto s = env("STATE_DIRECTORY"); !s.empty()) return s.substr(0, s.find(':'));
  if (auto s = env("EDRI_STATE_DIR"); !s.empty()) return s;
  if (::geteuid() == 0) return "/var/lib/edri";
  if (auto s = env("XDG_STATE_HOME"); !s.empty()) return std::filesystem::path(s) / "edri";
  if (auto s = env("HOME"); !s.empty()) return std::filesystem::path(s) / ".local" / "state" / "edri";
  return std::filesystem::temp_directory_path() / "edri";
}

ConfigErrors::ConfigErrors(std::vector<std::string> problems)
    : std::runtime_error(problems.empty() ? "invalid configuration" : problems.front()),
      problems_(std::move(problems)) {}

DaemonConfig load_config(const std::filesystem::path& file) {
  const std::string name = file.string();
  {
    std::ifstream probe(file);
    if (!probe) throw ConfigErrors({name + ": cannot open: " + std::strerror(errno)});
  }
  YAML::Node root;
  try {
    root = YAML::LoadFile(name);
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp gives these a message of "bad file".
    throw ConfigErrors({name + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                        ": nested deeper than the YAML reader allows (" + std::to_string(e.depth()) + " levels)"});
  } catch (const YAML::ParserException& e) {
    throw ConfigErrors({name + ":" + std::to_string(e.mark.line + 1) + ":" +
                        std::to_string(e.mark.column + 1) + ": " + e.msg});
  } catch (const YAML::Exception& e) {
    throw ConfigErrors({name + ": " + e.what()});
  }

  DaemonConfig out;
  out.file = std::filesystem::absolute(file);
  out.state_dir = default_state_dir();
  out.router.id = host_name();
  out.log.journald = logging::stderr_is_journal();
  std::vector<std::string> problems;
  YamlReader r(name, problems);
  if (!root.IsDefined() || root.IsNull()) {
    throw ConfigErrors({name + ": the file is empty; it needs at least a 'managers' list"});
  }
  if (r.map(root, "the top level", {"router", "managers", "switch", "connector"})) {
    if (root["router"]) read_router(r, root["router"], out);
    if (root["switch"]) read_switch(r, root["switch"], out);
    if (root["connector"]) read_connector(r, root["connector"], out);
    if (root["switch"] && root["connector"]) {
      r.error(root["connector"], "an edrid is either a switch or a router with a connector, not both");
    }
    if (root["managers"]) {
      read_managers(r, root["managers"], out);
      for (auto& m : out.managers) {
        if (m.queue.durable.enabled) m.queue.durable.dir = out.state_dir / "queues" / m.name;
      }
    } else if (!root["switch"]) {
      r.error(root, "no 'managers' list: edrid has nothing to run");
    }
  }
  if (!problems.empty()) throw ConfigErrors(std::move(problems));
  return out;
}

}  // namespace edrid
