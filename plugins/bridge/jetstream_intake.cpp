#include "jetstream_intake.hpp"

namespace edri_bridge {

JetStreamIntake::JetStreamIntake(std::shared_ptr<NatsLink> link, const Inbound& route, RouteStats& stats,
                                 LinkLog log, Deliver deliver)
    : link_(std::move(link)), route_(route), stats_(stats), log_(std::move(log)), deliver_(std::move(deliver)) {}

JetStreamIntake::~JetStreamIntake() {
  stop();
  if (sub_) natsSubscription_Destroy(sub_);
}

void JetStreamIntake::start() { thread_ = std::thread([this] { run(); }); }

void JetStreamIntake::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void JetStreamIntake::settle() {
  stats_.inflight.fetch_sub(1);
  cv_.notify_all();
}

void JetStreamIntake::pause(std::chrono::milliseconds d) {
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, d, [this] { return stopping_; });
}

void JetStreamIntake::report(const std::string& text) {
  if (text == last_problem_) return;
  last_problem_ = text;
  log_(2, "jetstream " + route_.stream + "/" + route_.consumer + ": " + text);
}

bool JetStreamIntake::bind() {
  if (!link_->connected()) return false;
  jsCtx* js = link_->jetstream();
  jsErrCode jerr = static_cast<jsErrCode>(0);
  jsConsumerInfo* ci = nullptr;
  natsStatus s = js_GetConsumerInfo(&ci, js, route_.stream.c_str(), route_.consumer.c_str(), nullptr, &jerr);
  if (s == NATS_OK) {
    jsConsumerInfo_Destroy(ci);
  } else if (jerr == JSStreamNotFoundErr) {
    report("stream '" + route_.stream + "' does not exist on the NATS cluster: create it (retrying)");
    return false;
  } else if (s == NATS_NOT_FOUND || jerr == JSConsumerNotFoundErr) {
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = route_.consumer.c_str();
    cc.AckPolicy = js_AckExplicit;
    cc.FilterSubject = route_.subject.c_str();
    cc.MaxAckPending = route_.max_inflight;
    cc.AckWait = static_cast<int64_t>(route_.ack_wait.count()) * 1'000'000;
    cc.MaxDeliver = route_.max_deliver;
    s = js_AddConsumer(&ci, js, route_.stream.c_str(), &cc, nullptr, &jerr);
    if (s != NATS_OK) {
      report(std::string("cannot create consumer: ") + NatsError("js_AddConsumer", s).what() +
             std::string(" (jetstream error ") + std::to_string(jerr) + ")");
      return false;
    }
    jsConsumerInfo_Destroy(ci);
    log_(0, "jetstream " + route_.stream + "/" + route_.consumer + ": created the durable consumer on " +
                route_.subject);
  } else {
    report(std::string("consumer lookup failed: ") + NatsError("js_GetConsumerInfo", s).what());
    return false;
  }
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = route_.stream.c_str();
  so.Consumer = route_.consumer.c_str();
  s = js_PullSubscribe(&sub_, js, route_.subject.c_str(), route_.consumer.c_str(), nullptr, &so, &jerr);
  if (s != NATS_OK) {
    sub_ = nullptr;
    report(std::string("cannot bind: ") + NatsError("js_PullSubscribe", s).what());
    return false;
  }
  if (!last_problem_.empty()) log_(0, "jetstream " + route_.stream + "/" + route_.consumer + ": bound again");
  last_problem_.clear();
  return true;
}

void JetStreamIntake::run() {
  while (true) {
    {
      std::unique_lock lock(mutex_);
      // Backpressure: pull only what edri can still take.
      cv_.wait(lock, [this] { return stopping_ || stats_.inflight.load() < route_.max_inflight; });
      if (stopping_) return;
    }
    if (!sub_ && !bind()) {
      pause(std::chrono::milliseconds(500));
      continue;
    }
    const int room = route_.max_inflight - static_cast<int>(stats_.inflight.load());
    natsMsgList list{nullptr, 0};
    jsErrCode jerr = static_cast<jsErrCode>(0);
    const natsStatus s = natsSubscription_Fetch(&list, sub_, std::min(route_.batch, room), 500, &jerr);
    if (s == NATS_TIMEOUT) continue;
    if (s != NATS_OK && list.Count == 0) {
      report(std::string("fetch failed: ") + NatsError("fetch", s).what());
      if (s == NATS_INVALID_SUBSCRIPTION || s == NATS_CONNECTION_CLOSED) {
        natsSubscription_Destroy(sub_);
        sub_ = nullptr;
      }
      pause(std::chrono::milliseconds(500));
      continue;
    }
    last_problem_.clear();
    for (int i = 0; i < list.Count; ++i) {
      natsMsg* m = list.Msgs[i];
      list.Msgs[i] = nullptr;
      stats_.inflight.fetch_add(1);
      deliver_(m);
    }
    natsMsgList_Destroy(&list);
  }
}

}  // namespace edri_bridge
