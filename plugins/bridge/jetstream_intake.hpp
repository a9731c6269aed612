// Pulls messages from one durable JetStream consumer on a thread of its own,
// never more than the route's max_inflight unsettled at once: when edri's
// queues are slow to take them, the intake stops pulling and JetStream keeps
// the rest. The consumer is created when missing and bound again after a
// server failure; a missing stream is reported and retried.
#pragma once

#include "nats_bridge_settings.hpp"
#include "nats_link.hpp"
#include "route_stats.hpp"

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

namespace edri_bridge {

class JetStreamIntake {
 public:
  // deliver(msg) owns msg; whoever ends its delivery calls settle() once.
  using Deliver = std::function<void(natsMsg*)>;

  JetStreamIntake(std::shared_ptr<NatsLink> link, const Inbound& route, RouteStats& stats, LinkLog log,
                  Deliver deliver);
  ~JetStreamIntake();
  JetStreamIntake(const JetStreamIntake&) = delete;
  JetStreamIntake& operator=(const JetStreamIntake&) = delete;

  void start();
  // Stops pulling (messages handed out stay with their callbacks; those not
  // settled go again after the consumer's ack_wait).
  void stop();
  void settle();

 private:
  void run();
  bool bind();
  void report(const std::string& text);  // once per distinct problem
  void pause(std::chrono::milliseconds d);

  std::shared_ptr<NatsLink> link_;
  Inbound route_;
  RouteStats& stats_;
  LinkLog log_;
  Deliver deliver_;
  natsSubscription* sub_ = nullptr;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::string last_problem_;
  std::thread thread_;
};

}  // namespace edri_bridge
