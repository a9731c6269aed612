// Supervision of one worker process: start `edrid --worker` with a socket,
// greet it, end it and everything it started, reap it and say why it ended.
// Knows processes and the Init/Ready handshake; nothing of tasks.
#pragma once

#include "exec/worker_channel.hpp"

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

namespace edrid {

struct WorkerLaunch {
  std::string program;  // edrid
  std::string plugin;   // the shared object the worker loads
  std::string manager;  // its name, for the worker's logs
  std::string config_json;
  std::uint32_t log_level = 0;
};

// A started worker that answered Ready.
struct WorkerProcess {
  pid_t pid = -1;
  std::shared_ptr<worker::Channel> channel;
  std::unique_ptr<worker::FrameStream> frames;
};

// posix_spawn + exec (never a bare fork of the threaded router), in a
// process group of its own, with default signal dispositions. Throws
// ManagerError naming the manager when it cannot start or does not answer
// Ready within 10 s; the process is then killed and reaped.
WorkerProcess launch_worker(const WorkerLaunch& launch);

// Ends a worker and whatever it started: the worker leads its own process
// group, so a handler that forked takes its children with it. The channel
// is shut down too, so a reader of it sees the end even if a child that
// left the group (setsid) still holds the socket open.
void kill_worker(pid_t pid, worker::Channel& channel);

// Waits for a worker that ended (or is ending) and returns its wait status.
// Kills what is left of its process group first: until it is reaped its pid
// (the group's id) cannot be reused, so this reaches only what it started.
int reap_worker(pid_t pid);

// "worker killed by signal 11 (Segmentation fault)" and the like.
std::string describe_exit(int wait_status);

}  // namespace edrid
