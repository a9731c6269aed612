// A request handler's answer: data (which sets status ok) and/or a status.
// The host sends it when the handler returns.
#pragma once

#include <edri/draft.hpp>
#include <edri/event.hpp>
#include <edri/status.hpp>

#include <concepts>
#include <string>

namespace edri {

template <class R>
class Reply {
 public:
  Reply(const edri_host_api* host, edri_host_ctx* ctx, edri_response* resp)
      : host_(host), ctx_(ctx), resp_(resp) {}
  Reply(const Reply&) = delete;
  Reply& operator=(const Reply&) = delete;

  // Sets the response data and status ok.
  void set(R value) {
    if constexpr (std::is_same_v<R, json>) {
      std::vector<std::uint8_t> bytes = json::to_msgpack(value);
      edri_event* ev =
          host_->event_from_bytes(ctx_, "", EDRI_FORMAT_MSGPACK, bytes.data(), bytes.size());
      if (!ev) throw std::bad_alloc();
      host_->response_set_data(resp_, ev);
    } else {
      host_->response_set_data(resp_, detail::make_typed_event(host_, ctx_, std::move(value)));
    }
  }
  // Sets the response data, built in place (see edri/draft.hpp), and status ok.
  template <class U>
    requires std::same_as<U, R> && TypedEvent<U>
  void set(Draft<U> draft) {
    host_->response_set_data(resp_, draft.take());
  }
  void set_status(Status status, const std::string& message = {}) {
    host_->response_set_status(resp_, static_cast<std::uint32_t>(status), message.c_str());
  }
  void error(const std::string& message) { set_status(Status::error, message); }
  void reject(const std::string& message) { set_status(Status::rejected, message); }
  void not_found(const std::string& message) { set_status(Status::not_found, message); }

 private:
  const edri_host_api* host_;
  edri_host_ctx* ctx_;
  edri_response* resp_;
};

}  // namespace edri
