#include "tunnel/tunnel_table.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace edrid {

std::shared_ptr<Tunnel> TunnelTable::create(const edri_id128& id, std::string type, TunnelBinding opener,
                                            Tunnel::OpenDone done) {
  auto t = std::make_shared<Tunnel>(*this, id, std::move(type), settings_.window, std::move(opener), std::move(done));
  opened.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard lock(mutex_);
  tunnels_[id] = t;
  return t;
}

std::shared_ptr<Tunnel> TunnelTable::find(const edri_id128& id) const {
  std::lock_guard lock(mutex_);
  auto it = tunnels_.find(id);
  return it == tunnels_.end() ? nullptr : it->second;
}

void TunnelTable::remove(const edri_id128& id) {
  std::shared_ptr<Tunnel> gone;  // destroyed outside the lock
  std::lock_guard lock(mutex_);
  auto it = tunnels_.find(id);
  if (it == tunnels_.end()) return;
  gone = std::move(it->second);
  tunnels_.erase(it);
}

std::vector<std::shared_ptr<Tunnel>> TunnelTable::snapshot() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<Tunnel>> out;
  out.reserve(tunnels_.size());
  for (const auto& [id, t] : tunnels_) out.push_back(t);
  return out;
}

void TunnelTable::sink_gone(const TunnelSink* sink, const std::string& why) {
  for (auto& t : snapshot()) {
    const int side = t->side_of(sink);
    if (side < 0) continue;
    spdlog::warn("tunnel {} ({}): {}", to_hex(t->id()), t->type(), why);
    t->lost(side, why);
  }
}

void TunnelTable::owner_gone(const TunnelOwner* owner) {
  for (auto& t : snapshot()) {
    if (t->uses_owner(owner)) t->abort("a manager at one end stopped");
  }
}

void TunnelTable::sweep() {
  const auto now = std::chrono::steady_clock::now();
  for (auto& t : snapshot()) {
    if (t->idle_for(settings_.idle_timeout, now)) {
      spdlog::info("tunnel {} ({}) idle for over {} ms; closing it", to_hex(t->id()), t->type(),
                   settings_.idle_timeout.count());
      t->abort("idle for over " + std::to_string(settings_.idle_timeout.count()) + " ms");
    }
  }
}

void TunnelTable::stats_json(nlohmann::json& out) const {
  auto all = snapshot();
  nlohmann::json list = nlohmann::json::array();
  for (const auto& t : all) {
    if (list.size() >= 100) break;
    nlohmann::json j;
    t->stats_json(j);
    list.push_back(std::move(j));
  }
  out = {{"open", all.size()},
         {"opened", opened.load()},
         {"accepted", accepted.load()},
         {"refused", refused.load()},
         {"ended_with_error", ended_with_error.load()},
         {"bytes", bytes.load()},
         {"messages", messages.load()},
         {"max_in_flight", max_in_flight.load()},
         {"window", settings_.window},
         {"idle_timeout_ms", settings_.idle_timeout.count()},
         {"tunnels", std::move(list)}};
}

}  // namespace edrid
