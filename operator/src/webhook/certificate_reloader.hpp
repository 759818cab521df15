// The serving certificate and key, re-read when their files change so that a rotation
// (cert-manager, a Secret volume's symlink swap) needs no restart. A new pair is used only once it
// parses and the key matches the certificate; until then the last good pair keeps serving (a
// half-written rotation must not break every TLS handshake). No cpprestsdk here: plain files and
// OpenSSL.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace ipcmesh::webhook {

struct CertificatePair {
  std::string certificate_pem;  // leaf first, then intermediates
  std::string key_pem;
  std::uint64_t generation = 0;  // 1 for the first pair, +1 per accepted rotation
};

class CertificateReloader {
 public:
  // Loads the pair at once; throws std::runtime_error saying which file is wrong and why.
  CertificateReloader(std::string certificate_file, std::string key_file);

  // The pair to serve with. Cheap when nothing changed (two stat calls); never throws.
  std::shared_ptr<const CertificatePair> current();

  // Why the latest change was not taken ("" when it was).
  std::string last_error() const;

 private:
  struct FileStamp {
    std::uint64_t device = 0, inode = 0, size = 0;
    std::int64_t mtime_ns = 0;
    bool exists = false;
    friend bool operator==(const FileStamp&, const FileStamp&) = default;
  };
  static FileStamp stamp(const std::string& path);
  // Reads and checks both files; the error string says why it failed.
  bool try_load(std::string& error);

  std::string certificate_file_;
  std::string key_file_;
  mutable std::mutex mutex_;
  FileStamp certificate_stamp_;
  FileStamp key_stamp_;
  std::shared_ptr<const CertificatePair> current_;
  std::string last_error_;
};

// Checks that the PEM texts hold a certificate and a private key that belong together. Returns ""
// when they do, else the reason.
std::string check_certificate_pair(const std::string& certificate_pem, const std::string& key_pem);

}  // namespace ipcmesh::webhook
