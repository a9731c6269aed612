// Runs a real program with its output in a file, for tests of the edrid
// binary. The destructor kills (by PID) a child the test did not stop.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace probe {

class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> argv, std::filesystem::path output)
      : output_(std::move(output)) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, output_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    const int rc = posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw std::runtime_error("posix_spawn " + argv[0] + " failed");
  }
  ~ChildProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  void signal(int sig) const { ::kill(pid_, sig); }
  pid_t pid() const noexcept { return pid_; }

  // The exit status, or -1 if it did not exit within `within`.
  int wait_exit(std::chrono::milliseconds within) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }

  std::string output() const {
    std::ifstream in(output_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  // Waits until the output contains `needle`.
  bool wait_output(const std::string& needle, std::chrono::milliseconds within) const {
    const auto deadline = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < deadline) {
      if (output().find(needle) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

 private:
  pid_t pid_ = -1;
  std::filesystem::path output_;
};

// Runs argv to completion and returns {exit status, output}.
inline std::pair<int, std::string> run_to_end(std::vector<std::string> argv,
                                              const std::filesystem::path& output) {
  ChildProcess p(std::move(argv), output);
  const int rc = p.wait_exit(std::chrono::seconds(30));
  return {rc, p.output()};
}

}  // namespace probe
