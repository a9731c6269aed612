// Catch2 main for test binaries that run process executors: workers are
// started as /proc/self/exe --worker ..., so this binary must serve them too.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "exec/worker_host.hpp"

#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
  if (argc == 5 && std::strcmp(argv[1], "--worker") == 0) {
    return edrid::run_worker(argv[2], argv[3], std::atoi(argv[4]));
  }
  return Catch::Session().run(argc, argv);
}
