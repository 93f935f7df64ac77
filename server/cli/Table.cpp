// Table.cpp - column layout and ages.
#include "server/cli/Table.hpp"

#include <algorithm>
#include <ctime>

namespace tether::cli {

void printTable(std::ostream& out, const std::vector<std::string>& headers,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths(headers.size());
  for (std::size_t i = 0; i < headers.size(); ++i) widths[i] = headers[i].size();
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i)
      widths[i] = std::max(widths[i], row[i].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      text += cells[i];
      if (i + 1 < cells.size()) text += std::string(widths[i] - cells[i].size() + 3, ' ');
    }
    out << text << "\n";
  };
  line(headers);
  for (const auto& row : rows) line(row);
}

std::string formatAge(const std::string& rfc3339, std::chrono::system_clock::time_point now) {
  std::tm tm{};
  if (rfc3339.empty() || strptime(rfc3339.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) return "<unknown>";
  const auto created = std::chrono::system_clock::from_time_t(timegm(&tm));
  const auto seconds =
      std::max<long long>(0, std::chrono::duration_cast<std::chrono::seconds>(now - created).count());
  if (seconds < 120) return std::to_string(seconds) + "s";
  const auto minutes = seconds / 60;
  if (minutes < 10)
    return std::to_string(minutes) + "m" + (seconds % 60 ? std::to_string(seconds % 60) + "s" : "");
  if (minutes < 180) return std::to_string(minutes) + "m";
  const auto hours = minutes / 60;
  if (hours < 8)
    return std::to_string(hours) + "h" + (minutes % 60 ? std::to_string(minutes % 60) + "m" : "");
  if (hours < 48) return std::to_string(hours) + "h";
  const auto days = hours / 24;
  if (days < 8) return std::to_string(days) + "d" + (hours % 24 ? std::to_string(hours % 24) + "h" : "");
  return std::to_string(days) + "d";
}

}  // namespace tether::cli
