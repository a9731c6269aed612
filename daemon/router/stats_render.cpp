#include "router/stats_render.hpp"

#include <cstdio>
#include <initializer_list>

#include <nlohmann/json.hpp>

namespace edrid {
namespace {

using nlohmann::json;

json executor_json(const ManagerSnapshot& m) {
  json j = {{"type", m.executor_type},
            {"ordering", m.ordering},
            {"workers", m.workers},
            {"slots", m.executor.slots},
            {"in_flight", m.executor.in_flight}};
  if (m.executor.threads) j["threads"] = *m.executor.threads;
  if (const auto& p = m.executor.processes) {
    j["waiting"] = p->waiting;
    j["worker_pids"] = p->worker_pids;
    j["spawned"] = p->spawned;
    j["timeouts"] = p->timeouts;
    j["timeout_ms"] = p->timeout_ms;
  }
  return j;
}

json filters_json(const ManagerSnapshot& m) {
  json out = json::array();
  for (const auto& [pattern, text] : m.filters) {
    out.push_back({{"pattern", pattern}, {"filter", json::parse(text, nullptr, false)}});
  }
  return out;
}

json latency_json(const LatencyHistogram::Snapshot& h) {
  return {{"samples", h.count},
          {"mean_us", h.mean_us()},
          {"p50_us", h.percentile_us(0.5)},
          {"p90_us", h.percentile_us(0.9)},
          {"p99_us", h.percentile_us(0.99)},
          {"p999_us", h.percentile_us(0.999)}};
}

json durable_json(const ManagerSnapshot& m) {
  if (!m.durable) return nullptr;
  const DurableStats& d = *m.durable;
  return {{"path", d.path},
          {"sync", to_string(d.sync)},
          {"depth", d.depth},
          {"bytes", d.bytes},
          {"oldest_age_ms", d.oldest_age_ms},
          {"commits", d.commits},
          {"commit_p50_us", d.commit_p50_us},
          {"commit_p99_us", d.commit_p99_us},
          {"full", d.full}};
}

json manager_json(const ManagerSnapshot& m) {
  return {{"name", m.name},
          {"plugin", m.plugin},
          {"group", m.group},
          {"delivery", m.delivery},
          {"health", to_string(m.health)},
          {"busy_for_ms", m.busy_for_ms},
          {"running", m.running},
          {"crashes", m.crashes},
          {"queue",
           {{"order", m.queue.order},
            {"depth", m.queue.depth},
            {"capacity", m.queue.capacity},
            {"high_water", m.queue.high_water},
            {"when_full", m.queue.when_full},
            {"rejected", m.queue.rejected},
            {"dropped", m.queue.dropped}}},
          {"durable", durable_json(m)},
          {"executor", executor_json(m)},
          {"received", m.received},
          {"handled", m.handled},
          {"errors", m.errors},
          {"expired", m.expired},
          {"deduplicated", m.deduplicated},
          {"filtered", m.filtered},
          {"filters", filters_json(m)},
          {"cancelled", m.cancelled},
          {"busy_ms", m.busy_ms},
          {"latency", {{"handler", latency_json(m.handler_latency)}, {"wait", latency_json(m.wait_latency)}}},
          {"rates",
           {{"received_per_s", m.received_per_s},
            {"handled_per_s", m.handled_per_s},
            {"errors_per_s", m.errors_per_s}}},
          {"last_errors", m.last_errors}};
}

json link_json(const LinkSnapshot& l) {
  json j = {{"role", l.role},
            {"peer", l.peer},
            {"state", l.state},
            {"address", l.address},
            {"peer_incarnation", l.peer_incarnation},
            {"sent_seq", l.sent_seq},
            {"acked_seq", l.acked_seq},
            {"received_seq", l.received_seq},
            {"events_received", l.events_received},
            {"replay_frames", l.replay_frames},
            {"replay_bytes", l.replay_bytes},
            {"replay_dropped", l.replay_dropped},
            {"publisher_waits", l.publisher_waits},
            {"publisher_wait_timeouts", l.publisher_wait_timeouts},
            {"duplicates_dropped", l.duplicates_dropped},
            {"refused_frames", l.refused_frames},
            {"reconnects", l.reconnects},
            {"gaps", l.gaps},
            {"events_lost", l.events_lost},
            {"bytes_in", l.bytes_in},
            {"bytes_out", l.bytes_out},
            {"writes", l.writes}};
  if (l.switch_address) j["switch"] = *l.switch_address;
  if (l.incarnation) j["incarnation"] = *l.incarnation;
  if (l.patterns) j["patterns"] = *l.patterns;
  if (l.held_work) j["held_work"] = *l.held_work;
  if (l.filtered) j["filtered"] = *l.filtered;
  return j;
}

// Label values escaped as the text format asks: backslash, quote, newline.
std::string label(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (c == '\\' || c == '"') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

class Writer {
 public:
  void family(const char* name, const char* type, const char* help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  // Counters in full: a double's 6 significant digits would round them.
  void sample(const char* name, std::string_view labels, std::uint64_t v) { line(name, labels, std::to_string(v)); }
  void sample(const char* name, std::string_view labels, double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    line(name, labels, buf);
  }
  std::string take() { return std::move(out_); }

 private:
  void line(const char* name, std::string_view labels, std::string_view value) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }
  std::string out_;
};

template <typename T>
struct Family {
  const char* metric;
  const char* help;
  T value;
};

}  // namespace

void to_json(json& out, const RouterSnapshot& s) {
  const auto& e = s.events;
  json managers = json::array();
  for (const auto& m : s.managers) managers.push_back(manager_json(m));
  json types = json::array();
  for (const auto& t : s.types) types.push_back({{"type", t.type}, {"kind", t.kind}, {"sent", t.sent}});
  json links = json::array();
  for (const auto& l : s.links) links.push_back(link_json(l));
  json dead = json::object();
  for (const auto& [reason, n] : s.dead_letters) dead[std::string(reason)] = n;
  out = {{"router", s.router},
         {"uptime_ms", s.uptime_ms},
         {"events",
          {{"notifications", e.notifications},
           {"requests", e.requests},
           {"responses", e.responses},
           {"deliveries", e.deliveries},
           {"not_found", e.not_found},
           {"timeouts", e.timeouts},
           {"cancelled", e.cancelled},
           {"rejected", e.rejected},
           {"would_wait", e.would_wait},
           {"filtered_remote", e.filtered_remote},
           {"dropped", e.dropped},
           {"late_responses", e.late_responses},
           {"invalid", e.invalid},
           {"sent_remote", e.sent_remote},
           {"received_remote", e.received_remote},
           {"encoded", e.encoded},
           {"pending_requests", e.pending_requests},
           {"redeliveries", e.redeliveries}}},
         {"managers", std::move(managers)},
         {"types", std::move(types)},
         {"dead_letters", std::move(dead)},
         {"links", std::move(links)}};
}

std::string to_prometheus(const RouterSnapshot& s) {
  using Events = RouterSnapshot::Events;
  Writer w;
  const Events& e = s.events;
  w.family("edri_events_total", "counter", "Events sent through the router, by kind.");
  w.sample("edri_events_total", "kind=\"notification\"", e.notifications);
  w.sample("edri_events_total", "kind=\"request\"", e.requests);
  w.sample("edri_events_total", "kind=\"response\"", e.responses);
  using EventCount = std::uint64_t Events::*;
  for (const auto& f : {
           Family<EventCount>{"edri_deliveries_total", "Events queued for a manager.", &Events::deliveries},
           Family<EventCount>{"edri_not_found_total", "Requests nobody serves.", &Events::not_found},
           Family<EventCount>{"edri_timeouts_total", "Requests answered by their deadline.", &Events::timeouts},
           Family<EventCount>{"edri_cancelled_total", "Requests their senders cancelled (a client that went away).",
                              &Events::cancelled},
           Family<EventCount>{"edri_rejected_total", "Deliveries refused by a full queue.", &Events::rejected},
           Family<EventCount>{"edri_would_wait_total",
                              "Sends that would have waited for room, turned back to a sender that must not wait.",
                              &Events::would_wait},
           Family<EventCount>{"edri_dropped_total", "Events dropped by drop_oldest queues.", &Events::dropped},
           Family<EventCount>{"edri_filtered_remote_total",
                              "Events kept in this router: no other router's content filter took them.",
                              &Events::filtered_remote},
           Family<EventCount>{"edri_encoded_total", "Payloads serialised (process or type boundary).",
                              &Events::encoded},
       }) {
    w.family(f.metric, "counter", f.help);
    w.sample(f.metric, "", e.*f.value);
  }
  w.family("edri_redeliveries_total", "counter", "At-least-once events sent again after a failed delivery.");
  w.sample("edri_redeliveries_total", "", e.redeliveries);
  w.family("edri_dead_letters_total", "counter", "Events that became dead letters (edri.dead_letter), by reason.");
  for (const auto& [reason, n] : s.dead_letters) {
    w.sample("edri_dead_letters_total", "reason=\"" + std::string(reason) + "\"", n);
  }
  w.family("edri_events_by_type_total", "counter", "Events sent, by type and kind.");
  for (const auto& t : s.types) {
    w.sample("edri_events_by_type_total", "type=\"" + label(t.type) + "\",kind=\"" + t.kind + "\"", t.sent);
  }
  w.family("edri_pending_requests", "gauge", "Requests awaiting responses.");
  w.sample("edri_pending_requests", "", e.pending_requests);

  auto per_manager = [&](const char* metric, const char* type, const char* help, auto value) {
    w.family(metric, type, help);
    for (const auto& m : s.managers) w.sample(metric, "manager=\"" + label(m.name) + "\"", value(m));
  };
  using M = const ManagerSnapshot&;
  per_manager("edri_manager_queue_depth", "gauge", "Events waiting in the manager's queue.",
              [](M m) { return std::uint64_t{m.queue.depth}; });
  per_manager("edri_manager_queue_capacity", "gauge", "Capacity of the manager's queue.",
              [](M m) { return std::uint64_t{m.queue.capacity}; });
  per_manager("edri_manager_handled_total", "counter", "Events handled.", [](M m) { return m.handled; });
  // Prometheus histograms, with a bucket per power of two from 1 us.
  auto histogram = [&](const char* metric, const char* help, auto which) {
    w.family(metric, "histogram", help);
    const std::string bucket = std::string(metric) + "_bucket";
    const std::string sum = std::string(metric) + "_sum";
    const std::string count = std::string(metric) + "_count";
    for (const auto& m : s.managers) {
      const LatencyHistogram::Snapshot& h = which(m);
      const std::string who = "manager=\"" + label(m.name) + "\"";
      std::uint64_t below = 0;
      for (int i = 0; i < LatencyHistogram::kBuckets - 1; ++i) {
        below += h.counts[static_cast<std::size_t>(i)];
        if (i % LatencyHistogram::kPerOctave != 0) continue;
        char le[32];
        std::snprintf(le, sizeof le, "%.9g", LatencyHistogram::upper_us(i) / 1e6);
        w.sample(bucket.c_str(), who + ",le=\"" + le + "\"", below);
      }
      w.sample(bucket.c_str(), who + ",le=\"+Inf\"", h.count);
      w.sample(sum.c_str(), who, static_cast<double>(h.sum_ns) / 1e9);
      w.sample(count.c_str(), who, h.count);
    }
  };
  histogram("edri_manager_handler_seconds",
            "Time in a handler, one task in 8 sampled (in-process executors and the host's view of worker processes).",
            [](M m) -> const LatencyHistogram::Snapshot& { return m.handler_latency; });
  histogram("edri_manager_wait_seconds",
            "Time from an event's send (its sender's clock) to its handler's start, one task in 8 sampled.",
            [](M m) -> const LatencyHistogram::Snapshot& { return m.wait_latency; });
  auto per_durable = [&](const char* metric, const char* type, const char* help, auto value) {
    w.family(metric, type, help);
    for (const auto& m : s.managers) {
      if (m.durable) {
        w.sample(metric, "manager=\"" + label(m.name) + "\",sync=\"" + std::string(to_string(m.durable->sync)) + "\"",
                 value(*m.durable));
      }
    }
  };
  using D = const DurableStats&;
  per_durable("edri_durable_queue_depth", "gauge", "Events on disk in the manager's durable queue.",
              [](D d) { return d.depth; });
  per_durable("edri_durable_queue_bytes", "gauge", "Bytes of pages the durable queue's file uses.",
              [](D d) { return d.bytes; });
  per_durable("edri_durable_queue_oldest_age_seconds", "gauge", "Age of the oldest event in the durable queue.",
              [](D d) { return static_cast<double>(d.oldest_age_ms) / 1000.0; });
  per_durable("edri_durable_queue_commits_total", "counter", "Commits of the durable queue.",
              [](D d) { return d.commits; });
  per_durable("edri_durable_queue_commit_p99_seconds", "gauge",
              "99th percentile of the last 1024 commits' time (with their fsync when sync is always).",
              [](D d) { return static_cast<double>(d.commit_p99_us) / 1e6; });
  per_durable("edri_durable_queue_full_total", "counter", "Events refused because the file was at max_bytes.",
              [](D d) { return d.full; });
  per_manager("edri_manager_errors_total", "counter", "Handler failures.", [](M m) { return m.errors; });
  per_manager("edri_manager_filtered_total", "counter",
              "Events of a subscribed type that its content filter kept away.", [](M m) { return m.filtered; });
  per_manager("edri_manager_crashes_total", "counter", "Worker processes that died or were killed.",
              [](M m) { return m.crashes; });
  per_manager("edri_manager_received_per_second", "gauge",
              "Events queued for the manager per second (last interval).", [](M m) { return m.received_per_s; });
  per_manager("edri_manager_handled_per_second", "gauge", "Events handled per second (last interval).",
              [](M m) { return m.handled_per_s; });
  per_manager("edri_manager_errors_per_second", "gauge", "Handler failures per second (last interval).",
              [](M m) { return m.errors_per_s; });
  per_manager("edri_manager_running", "gauge", "Handlers running now.",
              [](M m) { return std::uint64_t{m.running}; });
  per_manager("edri_manager_health", "gauge", "0 ok, 1 warning, 2 error.",
              [](M m) { return static_cast<std::uint64_t>(m.health); });

  // Cluster links (a connector's one link, or a switch's link per router).
  auto per_link = [&](const char* metric, const char* type, const char* help, auto value) {
    w.family(metric, type, help);
    for (const auto& l : s.links) w.sample(metric, "peer=\"" + label(l.peer) + "\"", value(l));
  };
  per_link("edri_link_up", "gauge", "1 while the link to the peer is up.",
           [](const LinkSnapshot& l) { return std::uint64_t{l.state == "up"}; });
  using LinkCount = std::uint64_t LinkSnapshot::*;
  for (const auto& f : {
           Family<LinkCount>{"edri_link_sent_seq", "Last event sequence sent to the peer.", &LinkSnapshot::sent_seq},
           Family<LinkCount>{"edri_link_acked_seq", "Last event sequence the peer acknowledged.",
                             &LinkSnapshot::acked_seq},
           Family<LinkCount>{"edri_link_received_seq", "Last event sequence received from the peer.",
                             &LinkSnapshot::received_seq},
           Family<LinkCount>{"edri_link_replay_bytes", "Bytes of unacknowledged events kept for replay.",
                             &LinkSnapshot::replay_bytes},
           Family<LinkCount>{"edri_link_replay_frames", "Unacknowledged events kept for replay.",
                             &LinkSnapshot::replay_frames},
       }) {
    per_link(f.metric, "gauge", f.help, [&](const LinkSnapshot& l) { return l.*f.value; });
  }
  for (const auto& f : {
           Family<LinkCount>{"edri_link_reconnects_total", "Connections made after the first.",
                             &LinkSnapshot::reconnects},
           Family<LinkCount>{"edri_link_gaps_total", "Gaps detected (each also published as link.gap).",
                             &LinkSnapshot::gaps},
           Family<LinkCount>{"edri_link_events_lost_total", "Events known lost in gaps.", &LinkSnapshot::events_lost},
           Family<LinkCount>{"edri_link_duplicates_dropped_total", "Duplicate events dropped.",
                             &LinkSnapshot::duplicates_dropped},
           Family<LinkCount>{"edri_link_bytes_in_total", "Bytes received on the link.", &LinkSnapshot::bytes_in},
           Family<LinkCount>{"edri_link_bytes_out_total", "Bytes sent on the link.", &LinkSnapshot::bytes_out},
       }) {
    per_link(f.metric, "counter", f.help, [&](const LinkSnapshot& l) { return l.*f.value; });
  }
  // A switch's links only.
  if (!s.links.empty() && s.links.front().held_work) {
    per_link("edri_link_held_work", "gauge",
             "At-least-once group events placed with the router and not settled yet (placed again if it goes).",
             [](const LinkSnapshot& l) { return l.held_work.value_or(0); });
    per_link("edri_link_filtered_total", "counter",
             "Events the router subscribed to that its content filters turned away at the switch.",
             [](const LinkSnapshot& l) { return l.filtered.value_or(0); });
  }
  return w.take();
}

}  // namespace edrid
