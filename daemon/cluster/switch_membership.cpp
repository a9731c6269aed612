#include "cluster/switch_membership.hpp"

#include <fstream>
#include <system_error>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace edrid::cluster {

std::vector<Member> MembershipFile::load() const {
  std::vector<Member> out;
  if (path_.empty()) return out;
  std::ifstream in(path_);
  if (!in) return out;
  try {
    const auto j = nlohmann::json::parse(in);
    for (const auto& r : j.at("routers")) {
      Member m;
      m.id = r.at("id").get<std::string>();
      for (const auto& e : r.at("subscriptions")) {
        m.entries.push_back(SubscriptionEntry{e.at("kind").get<std::uint8_t>(), e.at("pattern").get<std::string>(),
                                              e.value("group", std::string()), e.value("filter", std::string())});
      }
      out.push_back(std::move(m));
    }
  } catch (const std::exception& e) {
    spdlog::warn("switch: ignoring membership file {}: {}", path_.string(), e.what());
    out.clear();
  }
  return out;
}

void MembershipFile::save(const std::vector<Member>& members) const {
  if (path_.empty()) return;
  nlohmann::json routers = nlohmann::json::array();
  for (const auto& m : members) {
    nlohmann::json subs = nlohmann::json::array();
    for (const auto& e : m.entries) {
      nlohmann::json entry{{"kind", e.kind}, {"pattern", e.pattern}};
      if (!e.group.empty()) entry["group"] = e.group;
      if (!e.filter.empty()) entry["filter"] = e.filter;
      subs.push_back(std::move(entry));
    }
    routers.push_back({{"id", m.id}, {"subscriptions", std::move(subs)}});
  }
  const nlohmann::json doc{{"version", 1}, {"routers", std::move(routers)}};
  std::error_code ec;
  std::filesystem::create_directories(path_.parent_path(), ec);
  const auto tmp = path_.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    // Router ids are printable but need not be UTF-8: never throw for that.
    out << doc.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    if (!out.flush()) {
      spdlog::warn("switch: cannot write membership file {}; a restart will not know the routers linked now", tmp);
      return;
    }
  }
  std::filesystem::rename(tmp, path_, ec);
  if (ec) {
    spdlog::warn("switch: cannot replace membership file {}: {}; a restart will not know the routers linked now",
                 path_.string(), ec.message());
  }
}

}  // namespace edrid::cluster
