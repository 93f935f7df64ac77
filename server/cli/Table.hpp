// Table.hpp - kubectl-style plain tables: upper-case headers, columns padded with three spaces.
#pragma once

#include <chrono>
#include <ostream>
#include <string>
#include <vector>

namespace tether::cli {

void printTable(std::ostream& out, const std::vector<std::string>& headers,
                const std::vector<std::vector<std::string>>& rows);

// kubectl's age format: 45s, 5m, 3h, 2d, 5d3h style truncated to the two largest units it uses.
std::string formatAge(const std::string& rfc3339, std::chrono::system_clock::time_point now);

}  // namespace tether::cli
