// Tells systemd (Type=notify) how edrid is doing: READY=1 once every manager
// started, STATUS= lines, STOPPING=1, and WATCHDOG=1 pings from the router's
// timer thread, so a wedged router gets restarted. Without NOTIFY_SOCKET
// every call is a no-op. It must outlive the TimerService it pings from.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

namespace edrid {

class TimerService;

class SystemdNotifier {
 public:
  void ready(const std::string& status);
  void status(const std::string& status);
  void stopping();
  // Pings at half the interval systemd asked for (WATCHDOG_USEC), if any.
  void start_watchdog(TimerService& timers);
  void stop_watchdog();

 private:
  void ping();
  std::mutex mutex_;  // ping() runs on the timer thread, stop on main
  TimerService* timers_ = nullptr;
  std::uint64_t interval_us_ = 0;
  std::uint64_t timer_id_ = 0;
  bool watching_ = false;
};

}  // namespace edrid
