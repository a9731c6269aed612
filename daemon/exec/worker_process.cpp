#include "exec/worker_process.hpp"

#include "plugin/manager_error.hpp"

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

extern char** environ;

namespace edrid {
namespace {

constexpr int kWorkerFd = 3;
constexpr int kReadyTimeoutMs = 10'000;

pid_t spawn_process(const WorkerLaunch& launch, int child_fd) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, child_fd, kWorkerFd);  // clears close-on-exec on fd 3
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);  // edrid blocks signals for sigwait
  posix_spawnattr_setsigdefault(&attr, &all);
  // A process group of its own: a Ctrl-C in the terminal, or a signal to
  // edrid's group, reaches only edrid, which drains the workers and stops
  // them in order; it used to kill them mid-task as well, and edrid then
  // started replacements while it was stopping.
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  std::vector<std::string> args{launch.program, "--worker", launch.plugin, launch.manager,
                                std::to_string(kWorkerFd)};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, launch.program.c_str(), &fa, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    throw ManagerError("manager '" + launch.manager + "': cannot start worker " + launch.program + ": " +
                       std::strerror(rc));
  }
  return pid;
}

}  // namespace

WorkerProcess launch_worker(const WorkerLaunch& launch) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    throw ManagerError("manager '" + launch.manager + "': socketpair: " + std::strerror(errno));
  }
  pid_t pid;
  try {
    pid = spawn_process(launch, sv[1]);
  } catch (...) {
    ::close(sv[0]);
    ::close(sv[1]);
    throw;
  }
  ::close(sv[1]);
  WorkerProcess w{pid, std::make_shared<worker::Channel>(sv[0]), std::make_unique<worker::FrameStream>(sv[0])};

  auto fail = [&](const std::string& why, bool kill) {
    if (kill) ::kill(pid, SIGKILL);
    const int status = reap_worker(pid);
    w.channel->close();
    throw ManagerError("manager '" + launch.manager +
                       "': worker did not start: " + (why.empty() ? describe_exit(status) : why));
  };
  w.channel->send(worker::Init{launch.config_json, launch.log_level});
  pollfd p{sv[0], POLLIN, 0};
  if (::poll(&p, 1, kReadyTimeoutMs) != 1) fail("no answer within 10 s", true);
  std::string err;
  auto first = w.frames->next(&err);
  if (!first) fail(err, false);
  if (!std::holds_alternative<worker::Ready>(*first)) {
    const auto* refused = std::get_if<worker::InitError>(&*first);
    fail(refused ? std::string(refused->message) : std::string("bad first frame"), true);
  }
  return w;
}

void kill_worker(pid_t pid, worker::Channel& channel) {
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);
  channel.shutdown();
}

int reap_worker(pid_t pid) {
  ::kill(-pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

std::string describe_exit(int status) {
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    return "worker killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  if (WIFEXITED(status)) return "worker exited with status " + std::to_string(WEXITSTATUS(status));
  return "worker ended";
}

}  // namespace edrid
