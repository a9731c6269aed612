#include "cluster/gap_notice.hpp"

#include "router/router.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace edrid::cluster {

void publish_gap(Router& router, const Gap& gap) {
  if (gap.unknown) {
    spdlog::error("link {}: {}; events it had not delivered may be lost", gap.peer, gap.reason);
  } else {
    spdlog::error("link {}: {}: {} events lost (sequences {}..{})", gap.peer, gap.reason, gap.lost,
                  gap.from_seq, gap.to_seq);
  }
  const nlohmann::json data = {{"peer", gap.peer},         {"reason", gap.reason},
                               {"lost", gap.lost},         {"unknown", gap.unknown},
                               {"from_seq", gap.from_seq}, {"to_seq", gap.to_seq}};
  const auto bytes = nlohmann::json::to_msgpack(data);
  EventPtr ev(event_from_bytes(kGapEventType, bytes.data(), bytes.size()));
  router.notify(nullptr, std::move(ev), nullptr, nullptr);
}

}  // namespace edrid::cluster
