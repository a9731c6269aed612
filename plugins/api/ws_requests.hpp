// A WebSocket client's requests in flight: bounded (ws_max_in_flight), and
// cancelled when the client goes, since nobody would read their answers.
#pragma once

#include <edri/abi.h>

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace edri_api {

class WsRequests : public std::enable_shared_from_this<WsRequests> {
 public:
  // Holds one place until the last copy is gone: the request's last answer
  // came, or it was refused or never sent. Copied into every callback of the
  // request, so no path can free the place twice or forget it.
  class Place {
   public:
    explicit Place(std::shared_ptr<WsRequests> owner) : owner_(std::move(owner)) {}
    Place(const Place&) = delete;
    Place& operator=(const Place&) = delete;
    ~Place() { owner_->release(sent_ ? &id_ : nullptr); }
    // The request went out as `id`; false when the client has gone
    // meanwhile: the caller cancels it.
    bool sent(const edri_id128& id);

   private:
    std::shared_ptr<WsRequests> owner_;
    edri_id128 id_{0, 0};
    bool sent_ = false;
  };

  explicit WsRequests(std::size_t max) : max_(max) {}
  // A place for one more request, or null when max are in flight.
  std::shared_ptr<Place> reserve();
  // The client went: the requests sent and still waiting, to cancel.
  std::vector<edri_id128> close();

 private:
  void release(const edri_id128* id);

  mutable std::mutex mutex_;
  const std::size_t max_;
  std::size_t count_ = 0;
  bool closed_ = false;
  std::vector<edri_id128> waiting_;  // at most max_: a scan is cheap
};

}  // namespace edri_api
