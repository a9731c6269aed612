#include "cluster/link_tls.hpp"

#include <boost/asio/ssl/context.hpp>

#include <openssl/err.h>

namespace edrid::cluster {
namespace {

namespace ssl = boost::asio::ssl;

// OpenSSL's own words for what failed ("no such file", "key values
// mismatch"), from its error queue when boost's message is generic.
std::string reason(const boost::system::system_error& e) {
  std::string out = e.code().message();
  if (const unsigned long err = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(err, buf, sizeof buf);
    out += " (" + std::string(buf) + ")";
  }
  ERR_clear_error();
  return out;
}

template <class F>
void load(const char* what, const std::filesystem::path& file, F f) {
  try {
    f();
  } catch (const boost::system::system_error& e) {
    throw TlsError("tls: cannot load " + std::string(what) + " " + file.string() + ": " + reason(e));
  }
}

}  // namespace

std::shared_ptr<ssl::context> make_tls_context(const TlsSettings& tls, bool server) {
  auto ctx = std::make_shared<ssl::context>(server ? ssl::context::tls_server : ssl::context::tls_client);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  if (server && (tls.cert.empty() || tls.key.empty())) {
    throw TlsError("tls: the switch needs cert and key");
  }
  if (tls.cert.empty() != tls.key.empty()) throw TlsError("tls: cert and key go together");
  if (!tls.cert.empty()) {
    load("certificate", tls.cert, [&] { ctx->use_certificate_chain_file(tls.cert.string()); });
    load("private key", tls.key, [&] { ctx->use_private_key_file(tls.key.string(), ssl::context::pem); });
  }
  if (!tls.ca.empty()) {
    load("CA file", tls.ca, [&] { ctx->load_verify_file(tls.ca.string()); });
  } else if (!server) {
    ctx->set_default_verify_paths();
  }
  if (server) {
    // With a CA, routers must show a certificate it signed.
    if (!tls.ca.empty()) ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  } else {
    ctx->set_verify_mode(ssl::verify_peer);
  }
  return ctx;
}

}  // namespace edrid::cluster
