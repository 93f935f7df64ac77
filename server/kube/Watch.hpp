// Watch.hpp - list+watch of one resource type as a resumable event stream, and an informer-style cache.
//
// The watch lists first, then watches from the list's resourceVersion; when the server closes the stream
// (timeoutSeconds, a dropped connection) it resumes from the last resourceVersion it saw (bookmarks keep
// that fresh); on 410 Expired it lists again and reports the new state as a resync. Failures back off
// exponentially up to a bound and are reported, never retried silently for ever without a word.
//
// Threading rule: all callbacks and all Informer state live on the executor given at construction (a
// strand or a single-threaded io_context); the transport's I/O thread only posts to it.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "server/kube/Client.hpp"

namespace tether::kube {

enum class WatchEventType { Added, Modified, Deleted, Bookmark };

struct WatchEvent {
  WatchEventType type;
  boost::json::value object;
};

struct WatchConfig {
  ListOptions list;                                               // selectors apply to list and watch
  std::chrono::seconds serverTimeout{std::chrono::seconds(300)};  // timeoutSeconds sent to the server
  std::chrono::milliseconds firstBackoff{200};
  std::chrono::milliseconds maxBackoff{std::chrono::seconds(10)};
  // Resume a watch from a resourceVersion seen earlier instead of listing first; if the server has
  // compacted it away (410), the watch lists and reports a resync.
  std::string startResourceVersion;
};

struct WatchHandlers {
  // The complete current state after a list (the first one, and every relist after 410).
  std::function<void(const std::vector<boost::json::value>& items)> onSync;
  std::function<void(const WatchEvent& event)> onEvent;
  // A failure the watch is backing off from (Forbidden, unreachable server); it keeps trying.
  std::function<void(const ApiError& error)> onError;
  // The stream ended and is being resumed from the last resourceVersion (count so far).
  std::function<void(int resumes)> onResume;
};

class Watch : public std::enable_shared_from_this<Watch> {
 public:
  static std::shared_ptr<Watch> start(Client& client, ResourceType type, std::string namespaceName,
                                      WatchConfig config, WatchHandlers handlers,
                                      boost::asio::any_io_executor executor);
  void stop();
  const std::string& resourceVersion() const { return resourceVersion_; }
  // How many times the stream was resumed or relisted (tests observe recovery through these).
  int resumes() const { return resumes_; }
  int relists() const { return relists_; }

 private:
  Watch(Client& client, ResourceType type, std::string namespaceName, WatchConfig config,
        WatchHandlers handlers, boost::asio::any_io_executor executor);
  void list(std::chrono::milliseconds delay);
  void watch(std::chrono::milliseconds delay);
  void onLine(const std::string& line);
  void backoffAfter(const ApiError& error, bool relist);

  Client& client_;
  ResourceType type_;
  std::string namespace_;
  WatchConfig config_;
  WatchHandlers handlers_;
  boost::asio::any_io_executor executor_;
  std::string resourceVersion_;
  std::string partialLine_;
  std::chrono::milliseconds backoff_;
  std::uint64_t transferId_ = 0;
  bool stopped_ = false;
  bool relistRequested_ = false;
  int resumes_ = 0;
  int relists_ = 0;
};

// An informer: a cache of the objects a watch sees, keyed "namespace/name", with waits on conditions.
class Informer {
 public:
  using Predicate = std::function<bool(const boost::json::value& object)>;

  Informer(Client& client, ResourceType type, std::string namespaceName, WatchConfig config,
           boost::asio::any_io_executor executor);
  ~Informer();

  // Calls `done` with the first object for which `predicate` holds (now or later), or a Timeout error
  // after `timeout`. `done` runs on the executor.
  void waitFor(const std::string& name, Predicate predicate, std::chrono::milliseconds timeout,
               std::function<void(Result<boost::json::value>)> done);
  // Observers of every change (after the cache is updated).
  void onChange(std::function<void(const WatchEvent& event)> observer);

  std::map<std::string, boost::json::value> snapshot() const { return cache_; }
  bool synced() const { return synced_; }
  Watch& watch() { return *watch_; }

 private:
  struct Waiter;
  void apply(const WatchEvent& event);
  void resync(const std::vector<boost::json::value>& items);
  void check(const std::string& key);

  ResourceType type_;
  std::string namespace_;
  boost::asio::any_io_executor executor_;
  std::map<std::string, boost::json::value> cache_;
  std::vector<std::shared_ptr<Waiter>> waiters_;
  std::vector<std::function<void(const WatchEvent&)>> observers_;
  bool synced_ = false;
  std::shared_ptr<Watch> watch_;
};

std::string objectKey(const boost::json::value& object);

}  // namespace tether::kube
