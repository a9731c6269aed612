// POSTs to one HTTP(S) destination over a kept-alive connection, with one
// deadline for connect, send and answer. Not shared between threads: the
// webhook manager keeps one per destination behind a mutex.
#pragma once

#include "webhook_settings.hpp"

#include <chrono>
#include <map>
#include <memory>
#include <string>

namespace edri_bridge {

struct PostResult {
  int status = 0;                  // HTTP status; 0 when there was no answer
  std::string error;               // why there was no answer
  std::chrono::milliseconds retry_after{-1};  // from Retry-After (seconds), when given
};

class HttpPoster {
 public:
  HttpPoster(const HttpUrl& destination, const std::string& ca_file);
  ~HttpPoster();
  HttpPoster(const HttpPoster&) = delete;
  HttpPoster& operator=(const HttpPoster&) = delete;

  PostResult post(const std::string& target, const std::map<std::string, std::string>& headers,
                  const std::string& body, std::chrono::milliseconds timeout);

 private:
  struct Connection;
  std::unique_ptr<Connection> c_;
};

}  // namespace edri_bridge
