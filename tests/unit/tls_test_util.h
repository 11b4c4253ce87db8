// A self-signed certificate for TLS unit tests, made in-process with OpenSSL (no tools needed).
#pragma once

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <string>

namespace pgw::testing {

// Writes DIR/NAME.crt and DIR/NAME.key: an EC P-256 key and a certificate for CN=127.0.0.1 valid for an hour.
// With a `key_password`, the key is written encrypted with it (PKCS#8, AES-256-CBC).
inline void WriteSelfSigned(const std::string& dir, const std::string& name, const std::string& key_password = "") {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  ASSERT_NE(key, nullptr);
  X509* x = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
  X509_set_issuer_name(x, X509_get_subject_name(x));
  ASSERT_GT(X509_sign(x, key, EVP_sha256()), 0);
  FILE* f = std::fopen((dir + "/" + name + ".crt").c_str(), "w");
  PEM_write_X509(f, x);
  std::fclose(f);
  f = std::fopen((dir + "/" + name + ".key").c_str(), "w");
  if (key_password.empty()) {
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  } else {
    PEM_write_PKCS8PrivateKey(f, key, EVP_aes_256_cbc(), key_password.c_str(), static_cast<int>(key_password.size()),
                              nullptr, nullptr);
  }
  std::fclose(f);
  X509_free(x);
  EVP_PKEY_free(key);
}

}  // namespace pgw::testing
