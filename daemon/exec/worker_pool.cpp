#include "exec/worker_pool.hpp"

#include <algorithm>
#include <iterator>

namespace edrid {

WorkerPool::WorkerPool(std::size_t workers, std::size_t depth, std::size_t max_in_flight,
                       std::size_t backlog_per_worker) noexcept
    : workers_(workers),
      depth_(depth),
      max_in_flight_(max_in_flight),
      backlog_capacity_(std::max<std::size_t>(1, backlog_per_worker * workers)) {}

void WorkerPool::all_ready() {
  free_.clear();
  for (std::size_t d = 0; d < depth_; ++d) {
    for (std::size_t i = 0; i < workers_; ++i) free_.push_back(i);
  }
}

void WorkerPool::worker_ready(std::size_t slot) {
  if (!stopping_) free_.insert(free_.end(), depth_, slot);
}

void WorkerPool::worker_lost(std::size_t slot) { std::erase(free_, slot); }

std::optional<WorkerPool::Assignment> WorkerPool::next() {
  if (stopping_ || backlog_.empty() || free_.empty() || in_flight_ >= max_in_flight_) return std::nullopt;
  Assignment a{free_.front(), std::move(backlog_.front())};
  free_.pop_front();
  backlog_.pop_front();
  ++in_flight_;
  return a;
}

void WorkerPool::task_ended(std::size_t slot, bool worker_current) {
  --in_flight_;
  if (worker_current && !stopping_) free_.push_back(slot);
}

std::deque<Delivery> WorkerPool::requeue(std::deque<Delivery> unstarted) {
  in_flight_ -= unstarted.size();
  if (stopping_) return unstarted;
  backlog_.insert(backlog_.begin(), std::make_move_iterator(unstarted.begin()),
                  std::make_move_iterator(unstarted.end()));
  return {};
}

std::deque<Delivery> WorkerPool::stop() {
  stopping_ = true;
  free_.clear();
  std::deque<Delivery> waiting;
  waiting.swap(backlog_);
  return waiting;
}

}  // namespace edrid
