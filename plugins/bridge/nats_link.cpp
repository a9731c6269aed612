#include "nats_link.hpp"

#include <vector>

namespace edri_bridge {
namespace {

std::string describe(natsStatus s) {
  std::string text = natsStatus_GetText(s);
  natsStatus last = NATS_OK;
  const char* detail = nats_GetLastError(&last);
  std::string d = detail ? detail : "";
  // libnats prefixes its source position: "(conn.c:1905): Authorization Violation".
  if (d.starts_with("(")) {
    if (const auto end = d.find("): "); end != std::string::npos) d.erase(0, end + 3);
  }
  if (!d.empty() && text != d) text += ": " + d;
  return text;
}

void check(natsStatus s, const std::string& what) {
  if (s != NATS_OK) throw NatsError(what, s);
}

}  // namespace

NatsError::NatsError(const std::string& what, natsStatus s) : std::runtime_error(what + ": " + describe(s)), status_(s) {}

NatsLink::NatsLink(const NatsSettings& settings, LinkLog log) : log_(std::move(log)) {
  for (const auto& s : settings.servers) servers_ += (servers_.empty() ? "" : ", ") + s;
  try {
    check(natsOptions_Create(&opts_), "nats options");
    std::vector<const char*> urls;
    for (const auto& s : settings.servers) urls.push_back(s.c_str());
    check(natsOptions_SetServers(opts_, urls.data(), static_cast<int>(urls.size())), "nats.servers");
    check(natsOptions_SetName(opts_, settings.client_name.c_str()), "nats.name");
    if (!settings.user.empty()) {
      check(natsOptions_SetUserInfo(opts_, settings.user.c_str(), settings.password.c_str()), "nats.user");
    }
    if (!settings.token.empty()) check(natsOptions_SetToken(opts_, settings.token.c_str()), "nats.token");
    if (!settings.creds_file.empty()) {
      check(natsOptions_SetUserCredentialsFromFiles(opts_, settings.creds_file.c_str(), nullptr), "nats.creds_file");
    }
    if (!settings.tls_ca.empty() || !settings.tls_cert.empty()) {
      check(natsOptions_SetSecure(opts_, true), "nats.tls");
      if (!settings.tls_ca.empty()) {
        check(natsOptions_LoadCATrustedCertificates(opts_, settings.tls_ca.c_str()), "nats.tls.ca " + settings.tls_ca);
      }
      if (!settings.tls_cert.empty()) {
        check(natsOptions_LoadCertificatesChain(opts_, settings.tls_cert.c_str(), settings.tls_key.c_str()),
              "nats.tls.cert " + settings.tls_cert);
      }
    }
    check(natsOptions_SetTimeout(opts_, settings.connect_timeout.count()), "nats.connect_timeout_ms");
    check(natsOptions_SetMaxReconnect(opts_, -1), "nats reconnect");
    check(natsOptions_SetReconnectWait(opts_, settings.reconnect_wait.count()), "nats.reconnect_wait_ms");
    check(natsOptions_SetReconnectBufSize(opts_, static_cast<int>(settings.reconnect_buffer_bytes)),
          "nats.reconnect_buffer_bytes");
    check(natsOptions_SetDisconnectedCB(opts_, &NatsLink::on_disconnected, this), "nats callbacks");
    check(natsOptions_SetReconnectedCB(opts_, &NatsLink::on_reconnected, this), "nats callbacks");
    check(natsOptions_SetErrorHandler(opts_, &NatsLink::on_error, this), "nats callbacks");
    check(natsOptions_SetClosedCB(opts_, &NatsLink::on_closed, this), "nats callbacks");

    // First without retrying, so that what no retry can fix (credentials,
    // TLS) stops the manager with libnats's reason; a server that is just
    // not there yet is then waited for in the background.
    natsStatus s = natsConnection_Connect(&nc_, opts_);
    if (s == NATS_CONNECTION_AUTH_FAILED || s == NATS_NOT_PERMITTED || s == NATS_SSL_ERROR ||
        s == NATS_SECURE_CONNECTION_REQUIRED || s == NATS_SECURE_CONNECTION_WANTED) {
      throw NatsError("cannot connect to [" + servers_ + "]", s);
    }
    if (s != NATS_OK) {
      const std::string why = describe(s);
      check(natsOptions_SetRetryOnFailedConnect(opts_, true, &NatsLink::on_connected, this), "nats callbacks");
      s = natsConnection_Connect(&nc_, opts_);
      if (s == NATS_NOT_YET_CONNECTED) {
        log_(1, "no NATS server of [" + servers_ + "] answers yet (" + why + "); retrying every " +
                    std::to_string(settings.reconnect_wait.count()) + " ms");
      } else if (s != NATS_OK) {
        throw NatsError("cannot connect to [" + servers_ + "]", s);
      }
    }
    if (s == NATS_OK) log_(0, "connected to " + url());
    check(natsConnection_JetStream(&js_, nc_, nullptr), "jetstream context");
  } catch (...) {
    if (js_) jsCtx_Destroy(js_);
    if (nc_) natsConnection_Destroy(nc_);
    if (opts_) natsOptions_Destroy(opts_);
    throw;
  }
}

NatsLink::~NatsLink() {
  closing_ = true;
  jsCtx_Destroy(js_);
  natsConnection_Close(nc_);
  // libnats runs connection callbacks on a thread of its own, later: wait
  // for the last one (closed), so none meets this object freed.
  {
    std::unique_lock lock(closed_mutex_);
    if (!closed_cv_.wait_for(lock, std::chrono::seconds(5), [this] { return closed_; })) {
      log_(1, "the NATS connection did not report closed within 5 s");
    }
  }
  natsConnection_Destroy(nc_);
  natsOptions_Destroy(opts_);
}

void NatsLink::drain(std::chrono::milliseconds timeout) {
  if (!connected()) return;
  if (natsConnection_FlushTimeout(nc_, timeout.count()) != NATS_OK) {
    log_(1, "NATS flush at stop did not finish within " + std::to_string(timeout.count()) + " ms");
  }
}

std::string NatsLink::url() const {
  char buf[256] = {0};
  if (natsConnection_GetConnectedUrl(nc_, buf, sizeof buf) != NATS_OK || !buf[0]) return "(none)";
  return buf;
}

void NatsLink::on_connected(natsConnection*, void* self) {
  auto* l = static_cast<NatsLink*>(self);
  l->log_(0, "connected to " + l->url());
}

void NatsLink::on_closed(natsConnection*, void* self) {
  auto* l = static_cast<NatsLink*>(self);
  std::lock_guard lock(l->closed_mutex_);
  l->closed_ = true;
  l->closed_cv_.notify_all();  // under the lock: the destructor cannot free it sooner
}

void NatsLink::on_disconnected(natsConnection* nc, void* self) {
  auto* l = static_cast<NatsLink*>(self);
  if (l->closing_) return;
  ++l->disconnects_;
  const char* why = nullptr;
  natsConnection_GetLastError(nc, &why);
  l->log_(1, std::string("lost the NATS server") + (why && *why ? std::string(" (") + why + ")" : std::string()) +
                 "; reconnecting to [" + l->servers_ + "] and the servers they gossip");
}

void NatsLink::on_reconnected(natsConnection*, void* self) {
  auto* l = static_cast<NatsLink*>(self);
  ++l->reconnects_;
  l->log_(0, "reconnected to " + l->url());
}

void NatsLink::on_error(natsConnection* nc, natsSubscription* sub, natsStatus err, void* self) {
  auto* l = static_cast<NatsLink*>(self);
  ++l->errors_;
  if (err == NATS_SLOW_CONSUMER) ++l->slow_consumer_;
  const char* why = nullptr;
  natsConnection_GetLastError(nc, &why);
  std::string text = std::string("NATS: ") + natsStatus_GetText(err);
  if (why && *why) text += std::string(" (") + why + ")";
  if (sub && err == NATS_SLOW_CONSUMER) text += ": messages on a core subscription were dropped";
  {
    std::lock_guard lock(l->last_error_mutex_);
    if (text == l->last_error_ && err == NATS_SLOW_CONSUMER) return;  // one line per episode, counted always
    l->last_error_ = text;
  }
  l->log_(1, text);
}

nlohmann::json NatsLink::stats() const {
  nlohmann::json j{{"connected", connected()},
                   {"server", url()},
                   {"disconnects", disconnects_.load()},
                   {"reconnects", reconnects_.load()},
                   {"errors", errors_.load()},
                   {"slow_consumer", slow_consumer_.load()}};
  std::lock_guard lock(last_error_mutex_);
  if (!last_error_.empty()) j["last_error"] = last_error_;
  return j;
}

}  // namespace edri_bridge
