// The router's open tunnels by id, their settings and counters.
#pragma once

#include "event/ids.hpp"
#include "tunnel/tunnel.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <unordered_map>

#include <nlohmann/json_fwd.hpp>

namespace edrid {

struct TunnelSettings {
  std::size_t window = 1u << 20;                 // bytes in flight per direction
  std::chrono::milliseconds idle_timeout{60'000};  // no message either way for this long ends it
};

class TunnelTable {
 public:
  explicit TunnelTable(TunnelSettings settings) : settings_(settings) {}

  std::shared_ptr<Tunnel> create(const edri_id128& id, std::string type, TunnelBinding opener,
                                 Tunnel::OpenDone done);
  std::shared_ptr<Tunnel> find(const edri_id128& id) const;
  void remove(const edri_id128& id);
  // The worker behind `sink` died: every tunnel it held ends with `why`.
  void sink_gone(const TunnelSink* sink, const std::string& why);
  // Ends tunnels idle for longer than the idle timeout.
  void sweep();
  // Ends every tunnel one of whose ends belongs to `manager` (it is stopping).
  void owner_gone(const TunnelOwner* owner);
  void stats_json(nlohmann::json& out) const;
  const TunnelSettings& settings() const noexcept { return settings_; }

  std::atomic<std::uint64_t> opened{0};
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> refused{0};
  std::atomic<std::uint64_t> ended_with_error{0};
  std::atomic<std::uint64_t> bytes{0};
  std::atomic<std::uint64_t> messages{0};
  // The most bytes any sender ever had in flight (never above the window).
  std::atomic<std::uint64_t> max_in_flight{0};

 private:
  std::vector<std::shared_ptr<Tunnel>> snapshot() const;

  const TunnelSettings settings_;
  mutable std::mutex mutex_;
  std::unordered_map<edri_id128, std::shared_ptr<Tunnel>, IdHash, IdEq> tunnels_;
};

}  // namespace edrid
