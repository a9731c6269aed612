// Two ends of a link over a real loopback connection, driven as the
// connector drives its end: how often a stream of events is written.
#include "cluster/link_session.hpp"
#include "cluster/link_state.hpp"
#include "cluster/wire.hpp"
#include "event/event.hpp"
#include "support/event_frames.hpp"
#include "support/wait_until.hpp"

#include <atomic>
#include <functional>
#include <chrono>
#include <memory>
#include <future>
#include <thread>

#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace edrid;
using namespace edrid::cluster;
using namespace std::chrono_literals;
using tcp = boost::asio::ip::tcp;
using probe::wait_until;

namespace {

class End : public LinkHooks {
 public:
  explicit End(const std::string& peer) : state(peer, ReplayLimits{}) {}
  LinkState* attach(LinkSession&, const Hello&, std::string*) override { return &state; }
  void established(LinkSession&) override { up = true; }
  void subscriptions(LinkSession&, std::vector<SubscriptionEntry>) override {}
  bool event(LinkSession& s, const WireEvent& e, const std::uint8_t*, std::size_t) override {
    last_kind = e.kind;
    ++received;
    if (on_event) on_event(s);
    return true;
  }
  void gap(LinkSession&, const Gap&) override {}
  void closed(LinkSession&, const std::string&) override {}

  LinkState state;
  std::atomic<bool> up{false};
  std::atomic<std::uint64_t> received{0};
  std::atomic<int> last_kind{-1};
  std::function<void(LinkSession&)> on_event;  // io thread
};

// Router "ra" linked to switch "sw"; events go from ra to sw.
class Link {
 public:
  explicit Link(std::chrono::microseconds coalesce) : ra_end("sw"), sw_end("ra") {
    settings.coalesce = coalesce;
    tcp::acceptor acceptor(io, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    tcp::socket client(io), server(io);
    client.connect(acceptor.local_endpoint());
    acceptor.accept(server);
    Hello ra_hello, sw_hello;
    ra_hello.role = Role::router;
    ra_hello.incarnation = 11;
    ra_hello.router_id = "ra";
    sw_hello.role = Role::switch_;
    sw_hello.incarnation = 22;
    sw_hello.router_id = "sw";
    ra = std::make_shared<LinkSession>(edrid::cluster::LinkStream(std::move(client)), settings, ra_hello, Role::switch_, ra_end);
    sw = std::make_shared<LinkSession>(edrid::cluster::LinkStream(std::move(server)), settings, sw_hello, Role::router, sw_end);
    ra->start();
    sw->start();
    thread = std::thread([this] { io.run(); });
    REQUIRE(wait_until([&] { return ra_end.up.load() && sw_end.up.load(); }, 5s));
  }
  ~Link() {
    boost::asio::post(io, [this] {
      ra->close("test over", false);
      sw->close("test over", false);
    });
    work.reset();
    thread.join();
  }
  // As the connector sends: wake the io thread only when the state says so.
  void send(const std::string& frame) {
    bool wake = false;
    REQUIRE(ra_end.state.enqueue(frame, true, &wake));
    if (wake) boost::asio::post(io, [this] { ra->flush(); });
  }
  std::uint64_t writes() { return writes_of(ra_end); }
  static std::uint64_t writes_of(const End& end) {
    edrid::LinkSnapshot s;
    end.state.snapshot(s);
    return s.writes;
  }

  LinkSettings settings;
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  End ra_end, sw_end;
  std::shared_ptr<LinkSession> ra, sw;
  std::thread thread;
};

}  // namespace

TEST_CASE("a stream of events is written in a few writes, and an event after a quiet spell at once") {
  const std::string frame = probe::event_frame();
  Link link(1s);
  const std::uint64_t before = link.writes();  // the handshake's
  // 300 events over about 300 ms: within one coalescing interval of the first.
  for (int i = 0; i < 300; ++i) {
    link.send(frame);
    std::this_thread::sleep_for(1ms);
  }
  REQUIRE(wait_until([&] { return link.sw_end.received == 300; }, 10s));
  // The first went at once; the rest waited for the interval to end.
  CHECK(link.writes() - before <= 3);

  // Quiet for longer than the interval: the next event goes without waiting for it.
  std::this_thread::sleep_for(1100ms);
  const auto sent_at = std::chrono::steady_clock::now();
  link.send(frame);
  REQUIRE(wait_until([&] { return link.sw_end.received == 301; }, 10s));
  CHECK(std::chrono::steady_clock::now() - sent_at < 500ms);
}

TEST_CASE("without coalescing a paced stream of events is written as it comes") {
  const std::string frame = probe::event_frame();
  Link link(0us);
  const std::uint64_t before = link.writes();
  for (int i = 0; i < 100; ++i) {
    link.send(frame);
    std::this_thread::sleep_for(2ms);
  }
  REQUIRE(wait_until([&] { return link.sw_end.received == 100; }, 10s));
  CHECK(link.writes() - before > 10);
}

TEST_CASE("a request is written at once and takes the notifications held back with it") {
  const std::string note = probe::event_frame();
  Link link(1s);
  link.send(note);  // the first goes at once
  REQUIRE(wait_until([&] { return link.sw_end.received == 1; }, 10s));
  for (int i = 0; i < 5; ++i) link.send(note);
  // Within the interval of the first write: held back.
  std::this_thread::sleep_for(100ms);
  CHECK(link.sw_end.received == 1);
  const auto sent_at = std::chrono::steady_clock::now();
  link.send(probe::event_frame(200, EDRI_KIND_REQUEST));
  REQUIRE(wait_until([&] { return link.sw_end.received == 7; }, 10s));
  CHECK(std::chrono::steady_clock::now() - sent_at < 500ms);
  CHECK(link.sw_end.last_kind == EDRI_KIND_REQUEST);  // in order, after the notifications
}

TEST_CASE("an ack rides with the answer it precedes, and a paused side still reads acks") {
  const std::string note = probe::event_frame();
  const std::string answer = probe::event_frame(200, EDRI_KIND_RESPONSE);
  Link link(0us);
  // The switch side answers each event at once, as a responder would.
  link.sw_end.on_event = [&](LinkSession& s) {
    REQUIRE(link.sw_end.state.enqueue(answer, true));
    s.flush();
  };
  std::this_thread::sleep_for(50ms);
  const std::uint64_t before = Link::writes_of(link.sw_end);
  link.send(note);
  REQUIRE(wait_until([&] { return link.ra_end.received == 1; }, 10s));
  // The sender hears the ack (its buffer drains) without a write of its own.
  REQUIRE(wait_until([&] { return link.ra_end.state.drained(); }, 10s));
  std::this_thread::sleep_for(20ms);  // past the ack delay: nothing more is written
  CHECK(Link::writes_of(link.sw_end) - before == 1);

  // A side that stops taking events still reads the acks of what it sent.
  std::promise<void> paused;
  boost::asio::post(link.io, [&] {
    link.ra->pause_events();
    paused.set_value();
  });
  paused.get_future().wait();
  // Twice: the read pending when it paused takes the first replies.
  for (int round = 1; round <= 2; ++round) {
    for (int i = 0; i < 10; ++i) link.send(note);
    REQUIRE(wait_until([&] { return link.sw_end.received == 1u + 10 * round; }, 10s));
    CHECK(wait_until([&] { return link.ra_end.state.drained(); }, 5s));
    std::this_thread::sleep_for(20ms);
  }
  CHECK(link.ra_end.received == 1);  // the answers wait, unacknowledged, for a resend
}

TEST_CASE("a whole frame with a refused type is dropped once and acknowledged, and the link stays up") {
  // What a peer might send that decode_event refuses for its content only:
  // here an invalid type name, written over a valid frame (encode_event
  // itself refuses to write one).
  std::string poison = probe::event_frame();
  const auto at = poison.find("demo.echo");
  REQUIRE(at != std::string::npos);
  poison.replace(at, 9, "demo..cho");
  std::string error;
  CHECK_FALSE([&] {
    EventPtr ev(event_from_bytes("demo..cho", nullptr, 0));
    ev->header.type = event_set_type(*ev, "demo..cho");
    ev->header.kind = EDRI_KIND_NOTIFICATION;
    std::string frame;
    return encode_event(*ev, EDRI_KIND_NOTIFICATION, 0, "", 1, frame, &error);
  }());
  CHECK_THAT(error, Catch::Contains("invalid type name 'demo..cho'"));

  Link link(0us);
  link.send(probe::event_frame());
  link.send(poison);
  link.send(probe::event_frame());
  REQUIRE(wait_until([&] { return link.sw_end.received == 2; }, 10s));
  CHECK(wait_until([&] { return link.sw_end.state.refused() == 1; }, 5s));
  // Acknowledged like any other: the sender's replay buffer lets it go, so a
  // reconnect would not resend it.
  CHECK(wait_until([&] { return link.ra_end.state.drained(); }, 5s));
  edrid::LinkSnapshot s;
  link.sw_end.state.snapshot(s);
  CHECK(s.refused_frames == 1);
  CHECK(s.reconnects == 0);
  CHECK(s.state == "up");
}
