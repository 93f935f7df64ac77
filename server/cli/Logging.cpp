// Logging.cpp - one logger with a stderr sink and an optional file sink.
#include "server/cli/Logging.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

namespace tether::cli {

std::optional<std::string> setUpLogging(const std::string& level, const std::optional<std::string>& file) {
  std::vector<spdlog::sink_ptr> sinks;
  sinks.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
  if (file) {
    // Created 0600 before spdlog opens it (for appending): a log may name Services, hosts and paths that
    // are nobody else's business on a shared machine. An existing file of ours is made 0600 too.
    const int fd = ::open(file->c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return "--log-file " + *file + ": " + std::strerror(errno);
    struct stat st {};
    const bool ours = ::fstat(fd, &st) == 0 && st.st_uid == ::geteuid() && S_ISREG(st.st_mode);
    if (ours) ::fchmod(fd, 0600);
    ::close(fd);
    if (!ours) return "--log-file " + *file + ": not a regular file of yours; choose another path";
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
