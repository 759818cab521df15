// kubectl's table: upper-case headers, columns left-aligned and separated by three spaces, no
// trailing blanks. Cells that are empty print as "<none>", as kubectl prints them.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace ipcmesh::cli {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void add_row(std::vector<std::string> cells);
  // Each line starts with `indent` (describe nests tables under a heading).
  void print(std::ostream& out, const std::string& indent = "") const;
  bool empty() const noexcept { return rows_.empty(); }

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// kubectl's AGE: "45s", "12m", "5h", "3d" (the largest unit, as `kubectl get` shows it);
// "<unknown>" for a time that does not parse.
std::string age_since(const std::string& rfc3339_time, std::int64_t now_seconds);

}  // namespace ipcmesh::cli
