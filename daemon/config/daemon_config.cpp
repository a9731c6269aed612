#include "config/daemon_config.hpp"

#include "config/yaml_reader.hpp"

#include <unistd.h>

#include <cctype>
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
  if (!r.map(n, "router", {"id", "log", "plugin_dirs", "request_timeout_ms", "stop_grace_ms",
                           "liveness"})) {
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
  read_ms(r, n, "request_timeout_ms", "router.request_timeout_ms", 1, out.router.request_timeout);
  read_ms(r, n, "stop_grace_ms", "router.stop_grace_ms", 0, out.router.stop_grace);
  if (const auto l = n["liveness"]) {
    if (r.map(l, "router.liveness", {"interval_ms", "warning_ms", "error_ms"})) {
      read_ms(r, l, "interval_ms", "router.liveness.interval_ms", 10, out.router.liveness_interval);
      read_ms(r, l, "warning_ms", "router.liveness.warning_ms", 1, out.router.liveness_warning);
      read_ms(r, l, "error_ms", "router.liveness.error_ms", 1, out.router.liveness_error);
      if (out.router.liveness_error < out.router.liveness_warning) {
        r.error(l, "router.liveness.error_ms must not be below warning_ms");
      }
    }
  }
}

void read_queue(YamlReader& r, const YAML::Node& n, QueueSettings& q) {
  if (!r.map(n, "queue", {"type", "capacity", "when_full"})) return;
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

void read_managers(YamlReader& r, const YAML::Node& n, DaemonConfig& out) {
  if (!n.IsSequence()) {
    r.error(n, "managers must be a list");
    return;
  }
  for (const auto& item : n) {
    if (!r.map(item, "manager", {"name", "plugin", "queue", "executor", "config"})) continue;
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
    if (item["config"]) m.config = item["config"];
    out.managers.push_back(std::move(m));
  }
}

}  // namespace

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
  } catch (const YAML::ParserException& e) {
    throw ConfigErrors({name + ":" + std::to_string(e.mark.line + 1) + ":" +
                        std::to_string(e.mark.column + 1) + ": " + e.msg});
  } catch (const YAML::Exception& e) {
    throw ConfigErrors({name + ": " + e.what()});
  }

  DaemonConfig out;
  out.file = std::filesystem::absolute(file);
  out.router.id = host_name();
  out.log.journald = logging::stderr_is_journal();
  std::vector<std::string> problems;
  YamlReader r(name, problems);
  if (!root.IsDefined() || root.IsNull()) {
    throw ConfigErrors({name + ": the file is empty; it needs at least a 'managers' list"});
  }
  if (r.map(root, "the top level", {"router", "managers", "switch", "connector"})) {
    for (const char* k : {"switch", "connector"}) {
      if (root[k]) {
        r.error(root[k], std::string("'") + k +
                             "' (clustering) is not available in this build of edrid");
      }
    }
    if (root["router"]) read_router(r, root["router"], out);
    if (root["managers"]) {
      read_managers(r, root["managers"], out);
    } else {
      r.error(root, "no 'managers' list: edrid has nothing to run");
    }
  }
  if (!problems.empty()) throw ConfigErrors(std::move(problems));
  return out;
}

}  // namespace edrid
