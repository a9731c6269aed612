#include "cluster/link_auth.hpp"

#include <sys/random.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <spdlog/spdlog.h>

namespace edrid::cluster {

std::string read_secret_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot read secret file " + path.string() + ": " + std::strerror(errno));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) {
    s.pop_back();
  }
  if (s.empty()) throw std::runtime_error("secret file " + path.string() + " is empty");
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    spdlog::warn("secret file {} can be read by others (mode {:o}); chmod 600 it", path.string(),
                 st.st_mode & 0777);
  }
  return s;
}

std::array<std::uint8_t, kNonceSize> random_nonce() {
  std::array<std::uint8_t, kNonceSize> n{};
  std::size_t got = 0;
  while (got < n.size()) {
    const ssize_t r = ::getrandom(n.data() + got, n.size() - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("getrandom: ") + std::strerror(errno));
    }
    got += static_cast<std::size_t>(r);
  }
  return n;
}

std::uint64_t random_incarnation() {
  // Start time in the high bits keeps later incarnations larger; random low
  // bits keep two starts in the same microsecond apart.
  const auto nonce = random_nonce();
  std::uint64_t rnd = 0;
  std::memcpy(&rnd, nonce.data(), sizeof rnd);
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  return (static_cast<std::uint64_t>(us) << 12) | (rnd & 0xfff) | 1;
}

std::array<std::uint8_t, 32> hmac_sha256(const std::string& key, const void* data, std::size_t len) {
  std::array<std::uint8_t, 32> out{};
  unsigned int out_len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
            static_cast<const unsigned char*>(data), len, out.data(), &out_len) ||
      out_len != out.size()) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  return out;
}

std::vector<std::uint8_t> auth_mac(const std::string& secret, const Hello& self, const Hello& peer) {
  if (secret.empty()) return {};
  std::string msg = "edri-link-v1";
  msg.push_back(static_cast<char>(self.role));
  msg.append(reinterpret_cast<const char*>(peer.nonce.data()), peer.nonce.size());
  msg.append(reinterpret_cast<const char*>(self.nonce.data()), self.nonce.size());
  msg.append(self.router_id);
  msg.push_back('\0');
  for (int i = 0; i < 8; ++i) msg.push_back(static_cast<char>((self.incarnation >> (8 * i)) & 0xff));
  const auto mac = hmac_sha256(secret, msg.data(), msg.size());
  return {mac.begin(), mac.end()};
}

bool mac_equal(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace edrid::cluster
