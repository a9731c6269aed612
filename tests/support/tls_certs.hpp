// Test certificates made with OpenSSL at run time (nothing to download, no
// openssl binary needed): a CA, a server certificate for localhost and
// 127.0.0.1, and a client certificate, as PEM files.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace probe {

class TlsCerts {
 public:
  struct Pair {
    std::filesystem::path cert, key;
  };

  // Files under `dir`, named after `name` (so two CAs can share a directory).
  TlsCerts(const std::filesystem::path& dir, const std::string& name) {
    ca_key_ = EVP_EC_gen("P-256");
    ca_ = make_cert(ca_key_, name + " test CA", nullptr, nullptr, true, "");
    ca_file_ = dir / (name + "-ca.pem");
    write_cert(ca_, ca_file_);
    server_ = issue(dir, name + "-server", "localhost", "DNS:localhost,IP:127.0.0.1");
    client_ = issue(dir, name + "-client", "router", "");
  }
  ~TlsCerts() {
    X509_free(ca_);
    EVP_PKEY_free(ca_key_);
  }
  TlsCerts(const TlsCerts&) = delete;
  TlsCerts& operator=(const TlsCerts&) = delete;

  const std::filesystem::path& ca() const { return ca_file_; }
  const Pair& server() const { return server_; }
  const Pair& client() const { return client_; }

 private:
  static void check(bool ok, const char* what) {
    if (!ok) throw std::runtime_error(std::string("test certificates: ") + what);
  }

  X509* make_cert(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* issuer_key, bool is_ca,
                  const std::string& san) {
    X509* x = X509_new();
    check(x != nullptr, "X509_new");
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), ++serial_);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 7 * 24 * 3600);
    X509_set_pubkey(x, key);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                               0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, nullptr, nullptr, 0);
    auto add = [&](int nid, const std::string& value) {
      X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
      check(ext != nullptr, "extension");
      X509_add_ext(x, ext, -1);
      X509_EXTENSION_free(ext);
    };
    add(NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "CA:FALSE");
    if (is_ca) add(NID_key_usage, "critical,keyCertSign,cRLSign");
    if (!san.empty()) add(NID_subject_alt_name, san);
    check(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0, "X509_sign");
    return x;
  }

  Pair issue(const std::filesystem::path& dir, const std::string& file, const std::string& cn,
             const std::string& san) {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    check(key != nullptr, "EVP_EC_gen");
    X509* x = make_cert(key, cn, ca_, ca_key_, false, san);
    Pair p{dir / (file + ".pem"), dir / (file + "-key.pem")};
    write_cert(x, p.cert);
    FILE* f = std::fopen(p.key.c_str(), "w");
    check(f != nullptr, "open key file");
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    X509_free(x);
    EVP_PKEY_free(key);
    return p;
  }

  static void write_cert(X509* x, const std::filesystem::path& file) {
    FILE* f = std::fopen(file.c_str(), "w");
    check(f != nullptr, "open certificate file");
    PEM_write_X509(f, x);
    std::fclose(f);
  }

  long serial_ = 0;
  EVP_PKEY* ca_key_ = nullptr;
  X509* ca_ = nullptr;
  std::filesystem::path ca_file_;
  Pair server_, client_;
};

}  // namespace probe
