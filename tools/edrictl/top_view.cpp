#include "top_view.hpp"

#include <cstdio>

namespace edrictl {
namespace {

using nlohmann::json;

// A sampled latency, or "-" before the first sample.
std::string us(const json& latency, const char* which) {
  if (!latency.is_object() || latency.value("samples", 0) == 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f", latency.value(which, 0.0));
  return buf;
}

}  // namespace

std::string render_top(const json& stats) {
  const json& ev = stats.value("events", json::object());
  std::size_t links = 0, up = 0;
  for (const auto& l : stats.value("links", json::array())) {
    ++links;
    up += l.value("state", std::string()) == "up";
  }
  char line[512];
  std::snprintf(line, sizeof line, "router %s  up %.1f s  notifications %llu  requests %llu  pending %llu  links %zu/%zu up\n",
                stats.value("router", std::string("?")).c_str(), stats.value("uptime_ms", 0.0) / 1000.0,
                ev.value("notifications", 0ull), ev.value("requests", 0ull), ev.value("pending_requests", 0ull), up,
                links);
  std::string out = line;
  std::snprintf(line, sizeof line, "%-20s %-8s %13s %10s %10s %8s %9s %9s %9s %9s\n", "MANAGER", "HEALTH", "QUEUE",
                "IN/S", "OUT/S", "ERR/S", "P50 US", "P99 US", "WAIT P99", "DURABLE");
  out += line;
  for (const auto& m : stats.value("managers", json::array())) {
    const json& q = m.value("queue", json::object());
    const json& rates = m.value("rates", json::object());
    const json& lat = m.value("latency", json::object());
    const json handler = lat.value("handler", json());
    const json wait = lat.value("wait", json());
    const std::string queue = std::to_string(q.value("depth", 0ull)) + "/" + std::to_string(q.value("capacity", 0ull));
    const json& durable = m.contains("durable") ? m["durable"] : json();
    const std::string on_disk = durable.is_object() ? std::to_string(durable.value("depth", 0ull)) : "-";
    std::string name = m.value("name", std::string("?"));
    if (name.size() > 20) name = name.substr(0, 19) + "~";
    std::snprintf(line, sizeof line, "%-20s %-8s %13s %10.1f %10.1f %8.1f %9s %9s %9s %9s\n", name.c_str(),
                  m.value("health", std::string("?")).c_str(), queue.c_str(), rates.value("received_per_s", 0.0),
                  rates.value("handled_per_s", 0.0), rates.value("errors_per_s", 0.0), us(handler, "p50_us").c_str(),
                  us(handler, "p99_us").c_str(), us(wait, "p99_us").c_str(), on_disk.c_str());
    out += line;
  }
  return out;
}

}  // namespace edrictl
