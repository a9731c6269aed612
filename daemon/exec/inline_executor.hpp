// Runs each handler on the manager's dispatch loop, one at a time.
#pragma once

#include "exec/executor.hpp"

namespace edrid {

class InlineExecutor final : public Executor {
 public:
  explicit InlineExecutor(ExecutionSite& site) : site_(site) {}
  void run(Delivery&& d, std::size_t loop) override;
  bool idle() const override { return true; }  // run() returns only when done

 private:
  ExecutionSite& site_;
};

}  // namespace edrid
