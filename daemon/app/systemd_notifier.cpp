#include "app/systemd_notifier.hpp"

#include "timer/timer_service.hpp"

#include <systemd/sd-daemon.h>

#include <spdlog/spdlog.h>

namespace edrid {

void SystemdNotifier::ready(const std::string& status) {
  sd_notifyf(0, "READY=1\nSTATUS=%s", status.c_str());
}

void SystemdNotifier::status(const std::string& status) {
  sd_notifyf(0, "STATUS=%s", status.c_str());
}

void SystemdNotifier::stopping() { sd_notify(0, "STOPPING=1\nSTATUS=stopping"); }

void SystemdNotifier::start_watchdog(TimerService& timers) {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return;
  {
    std::lock_guard lock(mutex_);
    timers_ = &timers;
    interval_us_ = usec / 2;
    watching_ = true;
  }
  spdlog::info("systemd watchdog every {} ms", usec / 2000);
  ping();
}

void SystemdNotifier::ping() {
  std::lock_guard lock(mutex_);
  if (!watching_) return;
  sd_notify(0, "WATCHDOG=1");
  timer_id_ = timers_->schedule(
      TimerService::Clock::now() + std::chrono::microseconds(interval_us_), [this] { ping(); });
}

void SystemdNotifier::stop_watchdog() {
  std::lock_guard lock(mutex_);
  if (!watching_) return;
  watching_ = false;
  timers_->cancel(timer_id_);
}

}  // namespace edrid
