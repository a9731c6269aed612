#include "app/daemon.hpp"

#include "cluster/connector.hpp"
#include "cluster/switch_server.hpp"
#include "config/plugin_config.hpp"

#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#ifndef EDRID_INSTALL_PLUGIN_DIR
#define EDRID_INSTALL_PLUGIN_DIR "/usr/local/lib/edri/plugins"
#endif

namespace edrid {

std::vector<std::filesystem::path> default_plugin_dirs() {
  std::vector<std::filesystem::path> dirs;
  if (const char* env = std::getenv("EDRI_PLUGIN_PATH")) {
    std::stringstream ss(env);
    std::string item;
    while (std::getline(ss, item, ':')) {
      if (!item.empty()) dirs.emplace_back(item);
    }
  }
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) dirs.push_back((exe.parent_path() / ".." / "lib" / "edri" / "plugins").lexically_normal());
  dirs.emplace_back(EDRID_INSTALL_PLUGIN_DIR);
  return dirs;
}

Daemon::Daemon(DaemonConfig config)
    : config_(std::move(config)), router_(std::make_unique<Router>(config_.router)) {}

Daemon::~Daemon() {
  stop();
  router_->set_link_stats({});
  router_->set_uplink(nullptr);
  connector_.reset();
  switch_.reset();
  router_.reset();
  libraries_.clear();
}

std::vector<std::filesystem::path> Daemon::search_dirs(const DaemonConfig& c) const {
  auto dirs = c.plugin_dirs;
  for (auto& d : default_plugin_dirs()) dirs.push_back(std::move(d));
  return dirs;
}

std::unique_ptr<ManagerRuntime> Daemon::prepare(const ManagerConfig& m, YamlReader& r,
                                                const std::vector<std::filesystem::path>& dirs) {
  std::shared_ptr<PluginLibrary> lib;
  try {
    const auto path = std::filesystem::canonical(find_plugin(m.plugin, dirs, config_.file.parent_path()));
    auto it = libraries_.find(path);
    if (it == libraries_.end()) it = libraries_.emplace(path, PluginLibrary::load(path)).first;
    lib = it->second;
  } catch (const std::exception& e) {
    r.error(m.plugin_mark, "manager '" + m.name + "': " + e.what());
    return nullptr;
  }
  auto cfg = check_plugin_config(r, m, lib->descriptor()->config_schema_json);
  if (!cfg) return nullptr;
  const std::string label = std::string(lib->descriptor()->name) + " " +
                            (lib->descriptor()->version ? lib->descriptor()->version : "");
  ExecutorSettings executor = m.executor;
  executor.plugin_path = lib->path();
  try {
    return router_->create_manager(m.name, lib->descriptor(), label, m.queue, cfg->dump(), executor, m.work);
  } catch (const ManagerError& e) {
    r.error(e.config_key().empty() ? m.mark : config_key_mark(m, e.config_key()), e.what());
    return nullptr;
  }
}

void Daemon::build() {
  std::vector<std::string> problems;
  YamlReader r(config_.file.string(), problems);
  const auto dirs = search_dirs(config_);
  std::vector<std::unique_ptr<ManagerRuntime>> ready;
  for (const ManagerConfig& m : config_.managers) {
    if (auto rt = prepare(m, r, dirs)) ready.push_back(std::move(rt));
  }
  if (!problems.empty()) throw ConfigErrors(std::move(problems));
  for (auto& rt : ready) router_->adopt(std::move(rt));
}

std::string Daemon::reload(DaemonConfig fresh) {
  auto same = [](const ManagerConfig& a, const ManagerConfig& b) { return a.signature == b.signature; };
  auto find = [](const DaemonConfig& c, const std::string& name) -> const ManagerConfig* {
    for (const auto& m : c.managers) {
      if (m.name == name) return &m;
    }
    return nullptr;
  };
  // Everything new is built before anything running is touched.
  std::vector<std::string> problems;
  YamlReader r(fresh.file.string(), problems);
  const auto dirs = search_dirs(fresh);
  std::vector<std::unique_ptr<ManagerRuntime>> incoming;
  std::vector<std::string> kept, started, restarted, stopped;
  for (const ManagerConfig& m : fresh.managers) {
    const ManagerConfig* old = find(config_, m.name);
    if (old && same(*old, m)) {
      kept.push_back(m.name);
      continue;
    }
    (old ? restarted : started).push_back(m.name);
    if (auto rt = prepare(m, r, dirs)) incoming.push_back(std::move(rt));
  }
  if (!problems.empty()) throw ConfigErrors(std::move(problems));

  logging::setup(fresh.log);
  if (fresh.switch_settings != config_.switch_settings || fresh.connector != config_.connector) {
    spdlog::warn("reload: the switch/connector settings changed; they take effect at the next restart");
  }
  for (auto it = config_.managers.rbegin(); it != config_.managers.rend(); ++it) {
    if (find(fresh, it->name)) continue;
    router_->retire_manager(it->name);
    stopped.push_back(it->name);
  }
  // A changed manager is replaced in place (its events queue for the new one
  // meanwhile); a new one starts.
  for (auto& rt : incoming) router_->replace_manager(std::move(rt));
  config_.managers = std::move(fresh.managers);
  config_.log = fresh.log;

  auto list = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& n : v) s += (s.empty() ? "" : ", ") + n;
    return s.empty() ? std::string("-") : s;
  };
  return "kept: " + list(kept) + "; started: " + list(started) + "; restarted: " + list(restarted) +
         "; stopped: " + list(stopped);
}

void Daemon::start() {
  router_->start();
  if (config_.switch_settings) {
    auto settings = *config_.switch_settings;
    settings.membership_file = config_.state_dir / ("switch-" + config_.router.id + ".json");
    switch_ = std::make_unique<cluster::Switch>(*router_, std::move(settings));
    switch_->start();
    router_->set_link_stats([sw = switch_.get()](std::vector<LinkSnapshot>& links) { sw->links(links); });
  }
  if (config_.connector) {
    connector_ = std::make_shared<cluster::Connector>(*router_, *config_.connector);
    router_->set_link_stats([c = connector_.get()](std::vector<LinkSnapshot>& links) { c->links(links); });
    router_->set_uplink(connector_.get());
    connector_->start();
  }
}

void Daemon::stop() {
  if (stopped_) return;
  stopped_ = true;
  const auto grace = router_->options().stop_grace;
  if (switch_) switch_->stop(grace);
  if (connector_) connector_->pause_inbound();
  router_->stop();
  if (connector_) connector_->stop(grace);
}

std::uint16_t Daemon::switch_port() const noexcept { return switch_ ? switch_->port() : 0; }

}  // namespace edrid
