// TLS contexts for links, from TlsSettings. Kept apart so that only the
// files that open links pull in OpenSSL's headers.
#pragma once

#include "cluster/cluster_settings.hpp"

#include <memory>
#include <stdexcept>

namespace boost::asio::ssl {
class context;
}

namespace edrid::cluster {

struct TlsError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The switch's (server) or a router's (client) context: TLS 1.2 or newer,
// peers verified as TlsSettings says. Throws TlsError naming the file and
// OpenSSL's reason when a certificate, key or CA does not load.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const TlsSettings& tls, bool server);

}  // namespace edrid::cluster
