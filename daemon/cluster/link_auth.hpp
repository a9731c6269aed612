// Authentication of a link: a shared secret read from a file and an
// HMAC-SHA256 challenge-response over both sides' fresh nonces, so a
// recorded handshake cannot be replayed and the secret never crosses the
// wire.
#pragma once

#include "cluster/wire.hpp"

#include <array>
#include <filesystem>
#include <string>
#include <vector>

namespace edrid::cluster {

// The secret in `path` (trailing whitespace dropped). Throws
// std::runtime_error naming the file when it is unreadable or empty; warns
// when others may read it.
std::string read_secret_file(const std::filesystem::path& path);

std::array<std::uint8_t, kNonceSize> random_nonce();
std::uint64_t random_incarnation();

// What `self` proves: HMAC-SHA256(secret, "edri-link-v1" | role | peer nonce |
// own nonce | own id | own incarnation). Empty when secret is empty.
std::vector<std::uint8_t> auth_mac(const std::string& secret, const Hello& self, const Hello& peer);
// Constant-time comparison of a received MAC with the expected one.
bool mac_equal(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b);

// HMAC-SHA256 of data (exposed for the RFC 4231 test vectors).
std::array<std::uint8_t, 32> hmac_sha256(const std::string& key, const void* data, std::size_t len);

}  // namespace edrid::cluster
