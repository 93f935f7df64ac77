// Logging.cpp - one logger with a stderr sink and an optional file sink.
#include "server/cli/Logging.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <vector>

namespace tether::cli {

std::optional<std::string> setUpLogging(const std::string& level, const std::optional<std::string>& file) {
  std::vector<spdlog::sink_ptr> sinks;
  sinks.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
  if (file) {
    try {
      sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(*file));
    } catch (const spdlog::spdlog_ex& error) {
      return "--log-file " + *file + ": " + error.what();
    }
  }
  auto logger = std::make_shared<spdlog::logger>("tether", sinks.begin(), sinks.end());
  logger->set_level(spdlog::level::from_str(level));
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%L%$ [%t] %v");
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
  return std::nullopt;
}

}  // namespace tether::cli
