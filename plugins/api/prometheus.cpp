#include "prometheus.hpp"

#include <sstream>

namespace edri_api {
namespace {

std::string label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

class Writer {
 public:
  void family(const char* name, const char* type, const char* help) {
    os_ << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
  }
  void sample(const char* name, const std::string& labels, double v) {
    os_ << name;
    if (!labels.empty()) os_ << '{' << labels << '}';
    os_ << ' ' << v << '\n';
  }
  std::string str() const { return os_.str(); }

 private:
  std::ostringstream os_;
};

double num(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<double>() : 0.0;
}

}  // namespace

std::string to_prometheus(const nlohmann::json& st, const std::map<unsigned, std::uint64_t>& http) {
  Writer w;
  const auto& ev = st.value("events", nlohmann::json::object());
  w.family("edri_events_total", "counter", "Events sent through the router, by kind.");
  for (auto [key, kind] : {std::pair{"notifications", "notification"}, std::pair{"requests", "request"},
                           std::pair{"responses", "response"}}) {
    w.sample("edri_events_total", std::string("kind=\"") + kind + "\"", num(ev, key));
  }
  struct Counter {
    const char* metric;
    const char* key;
    const char* help;
  };
  for (const Counter& c : {Counter{"edri_deliveries_total", "deliveries", "Events queued for a manager."},
                           Counter{"edri_not_found_total", "not_found", "Requests nobody serves."},
                           Counter{"edri_timeouts_total", "timeouts", "Requests answered by their deadline."},
                           Counter{"edri_cancelled_total", "cancelled",
                                   "Requests their senders cancelled (a client that went away)."},
                           Counter{"edri_rejected_total", "rejected", "Deliveries refused by a full queue."},
                           Counter{"edri_would_wait_total", "would_wait",
                                   "Sends that would have waited for room, turned back to a sender that must not wait."},
                           Counter{"edri_dropped_total", "dropped", "Events dropped by drop_oldest queues."},
                           Counter{"edri_encoded_total", "encoded", "Payloads serialised (process or type boundary)."}}) {
    w.family(c.metric, "counter", c.help);
    w.sample(c.metric, "", num(ev, c.key));
  }
  w.family("edri_events_by_type_total", "counter", "Events sent, by type and kind.");
  for (const auto& t : st.value("types", nlohmann::json::array())) {
    w.sample("edri_events_by_type_total",
             "type=\"" + label(t.value("type", "")) + "\",kind=\"" + label(t.value("kind", "")) + "\"",
             num(t, "sent"));
  }
  w.family("edri_pending_requests", "gauge", "Requests awaiting responses.");
  w.sample("edri_pending_requests", "", num(ev, "pending_requests"));

  const auto managers = st.value("managers", nlohmann::json::array());
  auto per_manager = [&](const char* metric, const char* type, const char* help, auto value) {
    w.family(metric, type, help);
    for (const auto& m : managers) {
      w.sample(metric, "manager=\"" + label(m.value("name", "")) + "\"", value(m));
    }
  };
  per_manager("edri_manager_queue_depth", "gauge", "Events waiting in the manager's queue.",
              [](const nlohmann::json& m) { return num(m["queue"], "depth"); });
  per_manager("edri_manager_queue_capacity", "gauge", "Capacity of the manager's queue.",
              [](const nlohmann::json& m) { return num(m["queue"], "capacity"); });
  per_manager("edri_manager_handled_total", "counter", "Events handled.",
              [](const nlohmann::json& m) { return num(m, "handled"); });
  per_manager("edri_manager_errors_total", "counter", "Handler failures.",
              [](const nlohmann::json& m) { return num(m, "errors"); });
  per_manager("edri_manager_crashes_total", "counter", "Worker processes that died or were killed.",
              [](const nlohmann::json& m) { return num(m, "crashes"); });
  per_manager("edri_manager_received_per_second", "gauge", "Events queued for the manager per second (last interval).",
              [](const nlohmann::json& m) { return num(m.value("rates", nlohmann::json::object()), "received_per_s"); });
  per_manager("edri_manager_handled_per_second", "gauge", "Events handled per second (last interval).",
              [](const nlohmann::json& m) { return num(m.value("rates", nlohmann::json::object()), "handled_per_s"); });
  per_manager("edri_manager_errors_per_second", "gauge", "Handler failures per second (last interval).",
              [](const nlohmann::json& m) { return num(m.value("rates", nlohmann::json::object()), "errors_per_s"); });
  per_manager("edri_manager_running", "gauge", "Handlers running now.",
              [](const nlohmann::json& m) { return num(m, "running"); });
  per_manager("edri_manager_health", "gauge", "0 ok, 1 warning, 2 error.", [](const nlohmann::json& m) {
    const auto h = m.value("health", "ok");
    return h == "ok" ? 0.0 : h == "warning" ? 1.0 : 2.0;
  });

  // Cluster links (a connector's one link, or a switch's link per router).
  const auto links = st.value("links", nlohmann::json::array());
  auto per_link = [&](const char* metric, const char* type, const char* help, auto value) {
    w.family(metric, type, help);
    for (const auto& l : links) w.sample(metric, "peer=\"" + label(l.value("peer", "")) + "\"", value(l));
  };
  per_link("edri_link_up", "gauge", "1 while the link to the peer is up.",
           [](const nlohmann::json& l) { return l.value("state", "") == "up" ? 1.0 : 0.0; });
  for (const Counter& c :
       {Counter{"edri_link_sent_seq", "sent_seq", "Last event sequence sent to the peer."},
        Counter{"edri_link_acked_seq", "acked_seq", "Last event sequence the peer acknowledged."},
        Counter{"edri_link_received_seq", "received_seq", "Last event sequence received from the peer."},
        Counter{"edri_link_replay_bytes", "replay_bytes", "Bytes of unacknowledged events kept for replay."},
        Counter{"edri_link_replay_frames", "replay_frames", "Unacknowledged events kept for replay."}}) {
    per_link(c.metric, "gauge", c.help, [&](const nlohmann::json& l) { return num(l, c.key); });
  }
  for (const Counter& c :
       {Counter{"edri_link_reconnects_total", "reconnects", "Connections made after the first."},
        Counter{"edri_link_gaps_total", "gaps", "Gaps detected (each also published as link.gap)."},
        Counter{"edri_link_events_lost_total", "events_lost", "Events known lost in gaps."},
        Counter{"edri_link_duplicates_dropped_total", "duplicates_dropped", "Duplicate events dropped."},
        Counter{"edri_link_bytes_in_total", "bytes_in", "Bytes received on the link."},
        Counter{"edri_link_bytes_out_total", "bytes_out", "Bytes sent on the link."}}) {
    per_link(c.metric, "counter", c.help, [&](const nlohmann::json& l) { return num(l, c.key); });
  }

  w.family("edri_http_requests_total", "counter", "HTTP requests answered by the api manager, by status.");
  for (const auto& [status, n] : http) {
    w.sample("edri_http_requests_total", "code=\"" + std::to_string(status) + "\"", static_cast<double>(n));
  }
  return w.str();
}

}  // namespace edri_api
