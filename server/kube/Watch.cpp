// Watch.cpp - resumable list+watch and the informer cache.
#include "server/kube/Watch.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>

namespace tether::kube {

namespace json = boost::json;
namespace asio = boost::asio;

namespace {

std::string field(const json::value& object, const char* section, const char* key) {
  if (!object.is_object()) return {};
  const auto* part = object.get_object().if_contains(section);
  if (part == nullptr || !part->is_object()) return {};
  const auto* value = part->get_object().if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->get_string()) : std::string();
}

std::string selectorQuery(const ListOptions& options) {
  std::string query;
  if (!options.labelSelector.empty()) query += "&labelSelector=" + urlEscape(options.labelSelector);
  if (!options.fieldSelector.empty()) query += "&fieldSelector=" + urlEscape(options.fieldSelector);
  return query;
}

template <typename Work>
void after(const asio::any_io_executor& executor, std::chrono::milliseconds delay, Work work) {
  if (delay.count() == 0) {
    asio::post(executor, std::move(work));
    return;
  }
  auto timer = std::make_shared<asio::steady_timer>(executor, delay);
  timer->async_wait([timer, work = std::move(work)](const boost::system::error_code&) mutable { work(); });
}

}  // namespace

std::string objectKey(const json::value& object) {
  return field(object, "metadata", "namespace") + "/" + field(object, "metadata", "name");
}

Watch::Watch(Client& client, ResourceType type, std::string namespaceName, WatchConfig config,
             WatchHandlers handlers, asio::any_io_executor executor)
    : client_(client),
      type_(std::move(type)),
      namespace_(std::move(namespaceName)),
      config_(std::move(config)),
      handlers_(std::move(handlers)),
      executor_(std::move(executor)),
      backoff_(config_.firstBackoff) {}

std::shared_ptr<Watch> Watch::start(Client& client, ResourceType type, std::string namespaceName,
                                    WatchConfig config, WatchHandlers handlers,
                                    asio::any_io_executor executor) {
  std::shared_ptr<Watch> watch(new Watch(client, std::move(type), std::move(namespaceName), std::move(config),
                                         std::move(handlers), executor));
  asio::post(executor, [watch] {
    if (watch->config_.startResourceVersion.empty()) {
      watch->list(std::chrono::milliseconds(0));
    } else {
      watch->resourceVersion_ = watch->config_.startResourceVersion;
      watch->watch(std::chrono::milliseconds(0));
    }
  });
  return watch;
}

void Watch::stop() {
  // Inline when called on the watch's executor (an owner being destroyed there): no event queued after this
  // point may reach the owner's handlers.
  asio::dispatch(executor_, [self = shared_from_this()] {
    self->stopped_ = true;
    if (self->transferId_ != 0) self->client_.cancel(self->transferId_);
  });
}

void Watch::list(std::chrono::milliseconds delay) {
  after(executor_, delay, [self = shared_from_this()] {
    if (self->stopped_) return;
    ListOptions options = self->config_.list;
    auto work = asio::prefer(self->executor_, asio::execution::outstanding_work.tracked);
    self->client_.list(self->type_, self->namespace_, options, [self, work](Result<json::value> result) {
      asio::post(work, [self, result = std::move(result)]() mutable {
        if (self->stopped_) return;
        if (!result) {
          self->backoffAfter(result.error(), true);
          return;
        }
        self->backoff_ = self->config_.firstBackoff;
        const auto& list = result.value();
        self->resourceVersion_ = field(list, "metadata", "resourceVersion");
        std::vector<json::value> items;
        if (const auto* found = list.is_object() ? list.get_object().if_contains("items") : nullptr;
            found != nullptr && found->is_array()) {
          items.assign(found->get_array().begin(), found->get_array().end());
        }
        if (self->handlers_.onSync) self->handlers_.onSync(items);
        self->watch(std::chrono::milliseconds(0));
      });
    });
  });
}

void Watch::watch(std::chrono::milliseconds delay) {
  if (stopped_) return;
  HttpRequest request;
  request.path = resourcePath(type_, namespace_) +
                 "?watch=1&allowWatchBookmarks=true&resourceVersion=" + urlEscape(resourceVersion_) +
                 "&timeoutSeconds=" + std::to_string(config_.serverTimeout.count()) +
                 selectorQuery(config_.list);
  request.timeout = std::chrono::milliseconds(0);
  partialLine_.clear();
  relistRequested_ = false;
  auto self = shared_from_this();
  // Keeps the executor's context running until the transfer's completion has been delivered, even when
  // the transfer was cancelled: otherwise the context could end while the I/O thread still posts to it.
  auto work = asio::prefer(executor_, asio::execution::outstanding_work.tracked);
  transferId_ = client_.stream(
      std::move(request),
      [self](std::string_view chunk) {
        asio::post(self->executor_, [self, data = std::string(chunk)] {
          if (self->stopped_) return;
          self->partialLine_ += data;
          for (auto newline = self->partialLine_.find('\n'); newline != std::string::npos;
               newline = self->partialLine_.find('\n')) {
            const auto line = self->partialLine_.substr(0, newline);
            self->partialLine_.erase(0, newline + 1);
            if (!line.empty()) self->onLine(line);
          }
        });
      },
      [self, work](Result<HttpResponse> result) {
        asio::post(work, [self, result = std::move(result)] {
          self->transferId_ = 0;
          if (self->stopped_) return;
          if (self->relistRequested_) {
            ++self->relists_;
            self->list(std::chrono::milliseconds(0));
            return;
          }
          if (!result) {
            self->backoffAfter(result.error(), result.error().reason == ApiReason::Expired);
            return;
          }
          // The server ended the stream (timeoutSeconds): resume where we were.
          ++self->resumes_;
          if (self->handlers_.onResume) self->handlers_.onResume(self->resumes_);
          self->watch(std::chrono::milliseconds(0));
        });
      },
      delay);
}

void Watch::onLine(const std::string& line) {
  boost::system::error_code ec;
  const auto event = json::parse(line, ec);
  if (ec || !event.is_object()) {
    // A corrupt stream: drop it and resume from the last good resourceVersion.
    spdlog::warn("watch {}: undecodable event, resuming", type_.resource);
    if (transferId_ != 0) client_.cancel(transferId_);
    return;
  }
  const auto* typeValue = event.get_object().if_contains("type");
  const auto* object = event.get_object().if_contains("object");
  if (typeValue == nullptr || !typeValue->is_string() || object == nullptr) return;
  const std::string kind(typeValue->get_string());
  if (kind == "ERROR") {
    const auto* code = object->is_object() ? object->get_object().if_contains("code") : nullptr;
    const bool expired = code != nullptr && code->is_int64() && code->get_int64() == 410;
    spdlog::info("watch {}: {}", type_.resource,
                 expired ? "resourceVersion expired, relisting" : "error event, resuming");
    relistRequested_ = expired;
    if (transferId_ != 0) client_.cancel(transferId_);
    return;
  }
  const auto version = field(*object, "metadata", "resourceVersion");
  if (!version.empty()) resourceVersion_ = version;
  WatchEvent watchEvent{WatchEventType::Bookmark, *object};
  if (kind == "ADDED")
    watchEvent.type = WatchEventType::Added;
  else if (kind == "MODIFIED")
    watchEvent.type = WatchEventType::Modified;
  else if (kind == "DELETED")
    watchEvent.type = WatchEventType::Deleted;
  else if (kind != "BOOKMARK")
    return;
  if (handlers_.onEvent) handlers_.onEvent(watchEvent);
}

void Watch::backoffAfter(const ApiError& error, bool relist) {
  if (handlers_.onError && error.reason != ApiReason::Expired) handlers_.onError(error);
  const auto delay = backoff_;
  backoff_ = std::min(backoff_ * 2, config_.maxBackoff);
  if (relist) {
    ++relists_;
    list(delay);
  } else {
    ++resumes_;
    watch(delay);
  }
}

struct Informer::Waiter {
  std::string key;
  Predicate predicate;
  std::function<void(Result<json::value>)> done;
  std::unique_ptr<asio::steady_timer> timer;
  bool finished = false;
};

Informer::Informer(Client& client, ResourceType type, std::string namespaceName, WatchConfig config,
                   asio::any_io_executor executor)
    : type_(type), namespace_(namespaceName), executor_(executor) {
  WatchHandlers handlers;
  handlers.onSync = [this](const std::vector<json::value>& items) { resync(items); };
  handlers.onEvent = [this](const WatchEvent& event) { apply(event); };
  handlers.onError = [this](const ApiError& error) {
    spdlog::warn("informer {}: {}", type_.resource, error.describe());
  };
  watch_ = Watch::start(client, std::move(type), std::move(namespaceName), std::move(config),
                        std::move(handlers), executor);
}

Informer::~Informer() {
  watch_->stop();
  // A waiter's timer handler owns the waiter; marking it finished keeps it away from this Informer.
  for (const auto& waiter : waiters_) {
    waiter->finished = true;
    waiter->timer->cancel();
  }
}

void Informer::onChange(std::function<void(const WatchEvent&)> observer) {
  observers_.push_back(std::move(observer));
}

void Informer::resync(const std::vector<json::value>& items) {
  cache_.clear();
  for (const auto& item : items) cache_[objectKey(item)] = item;
  synced_ = true;
  for (const auto& waiter : std::vector<std::shared_ptr<Waiter>>(waiters_)) check(waiter->key);
}

void Informer::apply(const WatchEvent& event) {
  if (event.type == WatchEventType::Bookmark) return;
  const auto key = objectKey(event.object);
  if (event.type == WatchEventType::Deleted) {
    cache_.erase(key);
  } else {
    cache_[key] = event.object;
  }
  for (const auto& observer : observers_) observer(event);
  check(key);
}

void Informer::check(const std::string& key) {
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    auto waiter = *it;
    const auto found = cache_.find(waiter->key);
    if (waiter->key == key && found != cache_.end() && waiter->predicate(found->second)) {
      waiter->finished = true;
      waiter->timer->cancel();
      it = waiters_.erase(it);
      waiter->done(found->second);
    } else {
      ++it;
    }
  }
}

void Informer::waitFor(const std::string& name, Predicate predicate, std::chrono::milliseconds timeout,
                       std::function<void(Result<json::value>)> done) {
  asio::post(executor_, [this, name, predicate = std::move(predicate), timeout,
                         done = std::move(done)]() mutable {
    auto waiter = std::make_shared<Waiter>();
    waiter->key = (type_.namespaced ? namespace_ : std::string()) + "/" + name;
    waiter->predicate = std::move(predicate);
    waiter->done = std::move(done);
    waiter->timer = std::make_unique<asio::steady_timer>(executor_, timeout);
    waiters_.push_back(waiter);
    waiter->timer->async_wait([this, waiter, timeout](const boost::system::error_code& ec) {
      if (ec || waiter->finished) return;
      waiter->finished = true;
      std::erase(waiters_, waiter);
      ApiError error;
      error.reason = ApiReason::Timeout;
      error.message = type_.resource + " \"" + waiter->key.substr(waiter->key.find('/') + 1) +
                      "\" did not reach the awaited state within " + std::to_string(timeout.count()) + " ms";
      error.verb = "WATCH";
      error.path = resourcePath(type_, namespace_);
      waiter->done(std::move(error));
    });
    if (synced_) check(waiter->key);
  });
}

}  // namespace tether::kube
