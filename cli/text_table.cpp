#include "text_table.hpp"

#include <algorithm>
#include <ostream>

#include "api/pod_record.hpp"

namespace ipcmesh::cli {

void TextTable::add_row(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  for (auto& cell : cells) {
    if (cell.empty()) cell = "<none>";
  }
  rows_.push_back(std::move(cells));
}

void TextTable::print(std::ostream& out, const std::string& indent) const {
  std::vector<std::size_t> widths(headers_.size());
  for (std::size_t column = 0; column < headers_.size(); ++column) {
    widths[column] = headers_[column].size();
    for (const auto& row : rows_) widths[column] = std::max(widths[column], row[column].size());
  }
  const auto print_row = [&](const std::vector<std::string>& cells) {
    std::string line = indent;
    for (std::size_t column = 0; column < cells.size(); ++column) {
      line += cells[column];
      if (column + 1 < cells.size())
        line += std::string(widths[column] - cells[column].size() + 3, ' ');
    }
    out << line << "\n";
  };
  print_row(headers_);
  for (const auto& row : rows_) print_row(row);
}

std::string age_since(const std::string& rfc3339_time, std::int64_t now_seconds) {
  const auto then = api::parse_kube_time(rfc3339_time);
  if (!then) return "<unknown>";
  const std::int64_t seconds = std::max<std::int64_t>(0, now_seconds - *then);
  if (seconds < 120) return std::to_string(seconds) + "s";
  if (seconds < 120 * 60) return std::to_string(seconds / 60) + "m";
  if (seconds < 48 * 3600) return std::to_string(seconds / 3600) + "h";
  return std::to_string(seconds / 86400) + "d";
}

}  // namespace ipcmesh::cli
