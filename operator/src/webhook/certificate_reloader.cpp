#include "webhook/certificate_reloader.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace ipcmesh::webhook {
namespace {

bool read_file(const std::string& path, std::string& out, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot open " + path + ": " + std::strerror(errno);
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  out = text.str();
  return true;
}

std::string openssl_error() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char buffer[256];
  ERR_error_string_n(code, buffer, sizeof buffer);
  return buffer;
}

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Deleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

}  // namespace

std::string check_certificate_pair(const std::string& certificate_pem, const std::string& key_pem) {
  std::unique_ptr<BIO, BioDeleter> cert_bio(
      BIO_new_mem_buf(certificate_pem.data(), static_cast<int>(certificate_pem.size())));
  std::unique_ptr<BIO, BioDeleter> key_bio(
      BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
  if (!cert_bio || !key_bio) return "out of memory";
  std::unique_ptr<X509, X509Deleter> cert(
      PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return "the certificate file holds no PEM certificate (" + openssl_error() + ")";
  std::unique_ptr<EVP_PKEY, KeyDeleter> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!key) return "the key file holds no unencrypted PEM private key (" + openssl_error() + ")";
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return "the private key does not match the certificate";
  }
  return {};
}

CertificateReloader::CertificateReloader(std::string certificate_file, std::string key_file)
    : certificate_file_(std::move(certificate_file)), key_file_(std::move(key_file)) {
  std::string error;
  if (!try_load(error)) {
    throw std::runtime_error("TLS certificate " + certificate_file_ + " / key " + key_file_ + ": " +
                             error);
  }
}

CertificateReloader::FileStamp CertificateReloader::stamp(const std::string& path) {
  struct stat info {};
  FileStamp result;
  if (::stat(path.c_str(), &info) != 0) return result;
  result.exists = true;
  result.device = info.st_dev;
  result.inode = info.st_ino;
  result.size = static_cast<std::uint64_t>(info.st_size);
  result.mtime_ns =
      static_cast<std::int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec;
  return result;
}

bool CertificateReloader::try_load(std::string& error) {
  // Stamps first: if a file changes while we read, the next call sees a new stamp and retries.
  const auto cert_stamp = stamp(certificate_file_);
  const auto key_stamp = stamp(key_file_);
  certificate_stamp_ = cert_stamp;
  key_stamp_ = key_stamp;
  auto pair = std::make_shared<CertificatePair>();
  if (!read_file(certificate_file_, pair->certificate_pem, error)) return false;
  if (!read_file(key_file_, pair->key_pem, error)) return false;
  error = check_certificate_pair(pair->certificate_pem, pair->key_pem);
  if (!error.empty()) return false;
  pair->generation = current_ ? current_->generation + 1 : 1;
  current_ = std::move(pair);
  return true;
}

std::shared_ptr<const CertificatePair> CertificateReloader::current() {
  std::lock_guard lock(mutex_);
  if (stamp(certificate_file_) != certificate_stamp_ || stamp(key_file_) != key_stamp_) {
    std::string error;
    last_error_ = try_load(error) ? std::string() : error;
  }
  return current_;
}

std::string CertificateReloader::last_error() const {
  std::lock_guard lock(mutex_);
  return last_error_;
}

}  // namespace ipcmesh::webhook
