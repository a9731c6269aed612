// edrid: the edri router daemon.
#include "app/daemon.hpp"
#include "app/systemd_notifier.hpp"
#include "exec/worker_host.hpp"
#include "log/logging.hpp"
#include "memory/allocator.hpp"

#include <edri/abi.h>
#include <edri/version.hpp>

#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>

#include <spdlog/spdlog.h>

namespace {

constexpr const char* kUsage =
    "usage: edrid -c FILE            run the router\n"
    "       edrid --check-config -c FILE   check FILE (and the plugins it names) and exit\n"
    "       edrid --version\n";

struct Options {
  std::optional<std::string> config;
  bool check = false;
  bool version = false;
  bool help = false;
};

std::optional<Options> parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "-c" || a == "--config") && i + 1 < argc) {
      o.config = argv[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      o.config = a.substr(9);
    } else if (a == "--check-config") {
      o.check = true;
    } else if (a == "--version" || a == "-V") {
      o.version = true;
    } else if (a == "--help" || a == "-h") {
      o.help = true;
    } else {
      std::cerr << "edrid: unknown argument '" << a << "'\n" << kUsage;
      return std::nullopt;
    }
  }
  return o;
}

// Sockets, plugins' files and worker pipes all count against the soft limit,
// 1024 on a stock system: every listener would start refusing connections
// long before the machine ran short. The hard limit is the operator's.
void raise_file_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= lim.rlim_max) return;
  lim.rlim_cur = lim.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &lim);
}

void print_errors(const edrid::ConfigErrors& e) {
  for (const auto& p : e.problems()) std::cerr << p << "\n";
}

// Re-reads the config on SIGHUP and applies it; an invalid file changes
// nothing and the running configuration stays.
void reload(const std::string& file, edrid::Daemon& daemon) {
  try {
    auto fresh = edrid::load_config(file);
    const std::string summary = daemon.reload(std::move(fresh));
    // Said at warn so the confirmation shows whatever the new level is.
    spdlog::warn("reloaded {}: {}", file, summary);
  } catch (const edrid::ConfigErrors& e) {
    for (const auto& p : e.problems()) spdlog::error("reload rejected: {}", p);
    spdlog::error("reload rejected; still running the previous configuration");
  } catch (const std::exception& e) {
    spdlog::error("reload failed: {}", e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  // A closed stderr pipe (a log collector that went away) must cost log
  // lines, not the daemon: writes then fail with EPIPE instead.
  std::signal(SIGPIPE, SIG_IGN);
  // Past a file size limit (RLIMIT_FSIZE) a write fails with EFBIG, as on a
  // full disk, and a durable queue refuses events until there is room.
  std::signal(SIGXFSZ, SIG_IGN);
  // Started by a process executor: edrid --worker PLUGIN MANAGER FD.
  if (argc == 5 && std::strcmp(argv[1], "--worker") == 0) {
    return edrid::run_worker(argv[2], argv[3], std::atoi(argv[4]));
  }
  auto opts = parse(argc, argv);
  if (!opts) return 2;
  if (opts->help) {
    std::cout << kUsage;
    return 0;
  }
  if (opts->version) {
    std::cout << "edrid " << EDRI_SDK_VERSION << " (plugin ABI " << EDRI_ABI_MAJOR << "."
              << EDRI_ABI_MINOR << ")\n";
    return 0;
  }
  if (!opts->config) {
    std::cerr << "edrid: no configuration file (-c FILE)\n" << kUsage;
    return 2;
  }

  raise_file_limit();

  // Block the signals we handle before any thread exists, so every thread
  // inherits the mask and only sigwait below sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // Outlives the daemon (and its timer thread, which pings the watchdog).
  edrid::SystemdNotifier systemd;
  try {
    auto config = edrid::load_config(*opts->config);
    edrid::logging::setup(config.log);
    edrid::Daemon daemon(std::move(config));
    daemon.build();
    if (opts->check) {
      std::cout << *opts->config << ": ok (" << daemon.config().managers.size() << " managers)\n";
      return 0;
    }
    daemon.start();
    const std::string running = "router '" + daemon.router().id() + "' running " +
                                std::to_string(daemon.config().managers.size()) + " managers";
    spdlog::info("edrid {} {} ({})", EDRI_SDK_VERSION, running, edrid::allocator_name());
    systemd.ready(running);
    systemd.start_watchdog(daemon.router().timers());
    for (;;) {
      int sig = 0;
      if (sigwait(&signals, &sig) != 0) continue;
      if (sig == SIGHUP) {
        systemd.status("reloading");
        reload(*opts->config, daemon);
        systemd.status(running);
        continue;
      }
      spdlog::info("received {}, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      break;
    }
    systemd.stopping();
    systemd.stop_watchdog();
    daemon.stop();
    spdlog::info("stopped cleanly");
    return 0;
  } catch (const edrid::ConfigErrors& e) {
    print_errors(e);
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "edrid: " << e.what() << "\n";
    return 1;
  }
}
