// The link protocol's codec and sequencing state, without sockets.
#include "cluster/link_auth.hpp"
#include "cluster/link_state.hpp"
#include "cluster/origin_filter.hpp"
#include "cluster/wire.hpp"
#include "event/ids.hpp"
#include "support/event_frames.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace edrid;
using namespace edrid::cluster;

namespace {

// The body of a whole frame, as FrameSplitter hands it out.
FrameSplitter::Frame only_frame(const std::string& bytes, std::uint32_t max = 1 << 20) {
  static FrameSplitter splitter(1 << 20);
  splitter = FrameSplitter(max);
  splitter.feed(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  FrameSplitter::Frame f{};
  std::string error;
  REQUIRE(splitter.next(f, &error) == FrameSplitter::Next::frame);
  REQUIRE(splitter.buffered() == 0);
  return f;
}

EventPtr sample_event() {
  const auto payload = nlohmann::json::to_msgpack(nlohmann::json{{"text", "hello"}});
  EventPtr ev(event_from_bytes("demo.echo", payload.data(), payload.size()));
  auto& h = ev->header;
  h.id = {1, 2};
  h.trace_id = {3, 4};
  h.correlation_id = {5, 6};
  h.type = event_set_type(*ev, "demo.echo");
  h.payload_type = ev->payload_type.data();
  h.kind = EDRI_KIND_REQUEST;
  h.priority = -7;
  h.origin_router = "ra";
  h.sender = "api";
  h.timestamp_ns = 123456789;
  h.deadline_ns = 987654321;
  h.status = EDRI_STATUS_TIMEOUT;
  h.message = event_set_message(*ev, "a message");
  return ev;
}

}  // namespace

TEST_CASE("every control frame survives encoding and decoding") {
  Hello h;
  h.role = Role::switch_;
  h.incarnation = 0x1122334455667788ull;
  h.nonce = random_nonce();
  h.router_id = "hub-1";
  auto f = only_frame(encode_hello(h));
  CHECK(f.type == static_cast<std::uint8_t>(FrameType::hello));
  std::string error;
  auto h2 = decode_hello(f.body, f.len, &error);
  REQUIRE(h2);
  CHECK(h2->role == Role::switch_);
  CHECK(h2->incarnation == h.incarnation);
  CHECK(h2->nonce == h.nonce);
  CHECK(h2->router_id == "hub-1");

  f = only_frame(encode_resume(Resume{7, 8, 9}));
  auto r = decode_resume(f.body, f.len, &error);
  REQUIRE(r);
  CHECK(r->known_incarnation == 7);
  CHECK(r->rx_last == 8);
  CHECK(r->tx_next == 9);

  const std::vector<SubscriptionEntry> subs{{EDRI_KIND_NOTIFICATION, "a.>"}, {EDRI_KIND_REQUEST, "b.*.c"}};
  f = only_frame(encode_subscriptions(subs));
  auto s = decode_subscriptions(f.body, f.len, &error);
  REQUIRE(s);
  CHECK(*s == subs);

  f = only_frame(encode_u64_frame(FrameType::ack, 42));
  CHECK(decode_u64(f.body, f.len, &error).value() == 42);
  f = only_frame(encode_close("wrong secret"));
  CHECK(decode_close(f.body, f.len, &error).value() == "wrong secret");
  f = only_frame(encode_auth(Auth{std::vector<std::uint8_t>(32, 0xab)}));
  CHECK(decode_auth(f.body, f.len, &error).value().mac.size() == 32);
}

TEST_CASE("content filters travel in subscriptions, and one out of bounds is refused") {
  std::string error;
  const std::vector<SubscriptionEntry> subs{{EDRI_KIND_NOTIFICATION, "a.b", "", R"({"n":{"gt":5}})"},
                                            {EDRI_KIND_NOTIFICATION, "a.b", "crunch", R"({"x":"y"})"},
                                            {EDRI_KIND_REQUEST, "c.*", "", ""}};
  auto f = only_frame(encode_subscriptions(subs));
  auto s = decode_subscriptions(f.body, f.len, &error);
  REQUIRE(s);
  CHECK(*s == subs);
  // On a tunnel, or larger than 64 KiB, a filter is refused.
  f = only_frame(encode_subscriptions({{EDRI_KIND_TUNNEL, "t.x", "", R"({"a":1})"}}));
  CHECK_FALSE(decode_subscriptions(f.body, f.len, &error));
  f = only_frame(encode_subscriptions({{EDRI_KIND_NOTIFICATION, "a", "", std::string(70 * 1024, 'x')}}));
  CHECK_FALSE(decode_subscriptions(f.body, f.len, &error));
  CHECK_THAT(error, Catch::Contains("filter of 71680 bytes"));
  // A filter length beyond the frame.
  const std::uint8_t truncated[] = {1, 0, 0, 0, 0x40, 1, 'a', 0xff, 0xff, 0, 0, '{'};
  CHECK_FALSE(decode_subscriptions(truncated, sizeof truncated, &error));
}

TEST_CASE("a sender's dedupe id travels in the event frame, also through a switch's group copy") {
  auto ev = edrid::EventPtr(edrid::event_from_bytes("job.run", nullptr, 0));
  auto& h = ev->header;
  h.id = {1, 2};
  h.trace_id = {3, 4};
  h.type = "job.run";
  h.origin_router = "ra";
  h.sender = "m";
  h.message = "";
  h.kind = EDRI_KIND_NOTIFICATION;
  auto& t = edrid::event_text(*ev);
  t.dedupe_id = edrid::dedupe_id_of("order-1");
  t.has_dedupe = true;
  CHECK_FALSE(edrid::IdEq{}(edrid::dedupe_id_of("order-1"), edrid::dedupe_id_of("order-2")));
  std::string frame;
  std::string error;
  const std::vector<std::string> groups{"g"};
  REQUIRE(encode_event(*ev, EDRI_KIND_NOTIFICATION, 0, "", 9, frame, &error, &groups));
  set_event_seq(frame.data(), frame.size(), 1);
  set_event_origin_seq(frame.data(), frame.size(), 1);
  auto f = only_frame(frame);
  WireEvent e;
  REQUIRE(decode_event(f.body, f.len, e, &error));
  CHECK(e.flags & kFlagDedupe);
  auto back = make_event(e);
  CHECK(edrid::IdEq{}(edrid::event_dedupe_id(*back), t.dedupe_id));
  const std::string_view mine[] = {"g"};
  const std::string copy = with_groups(reinterpret_cast<const std::uint8_t*>(frame.data()), frame.size(), e, mine, true);
  f = only_frame(copy);
  WireEvent c;
  REQUIRE(decode_event(f.body, f.len, c, &error));
  CHECK(edrid::IdEq{}(edrid::event_dedupe_id(*make_event(c)), t.dedupe_id));
  // Without a key, the id is what a window remembers.
  ev->text->has_dedupe = false;
  REQUIRE(encode_event(*ev, EDRI_KIND_NOTIFICATION, 0, "", 9, frame, &error));
  set_event_seq(frame.data(), frame.size(), 1);
  set_event_origin_seq(frame.data(), frame.size(), 1);
  f = only_frame(frame);
  REQUIRE(decode_event(f.body, f.len, e, &error));
  CHECK_FALSE(e.flags & kFlagDedupe);
  CHECK(edrid::IdEq{}(edrid::event_dedupe_id(*make_event(e)), h.id));
}

TEST_CASE("an event frame carries the whole header and the payload bytes") {
  EventPtr ev = sample_event();
  std::string frame;
  REQUIRE(encode_event(*ev, EDRI_KIND_REQUEST, kFlagLast, "rb", 99, frame, nullptr));
  set_event_seq(frame.data(), frame.size(), 11);
  set_event_origin_seq(frame.data(), frame.size(), 5);
  auto f = only_frame(frame);
  std::string error;
  WireEvent decoded;
  REQUIRE(decode_event(f.body, f.len, decoded, &error));
  const WireEvent* w = &decoded;
  CHECK(w->seq == 11);
  CHECK(w->origin_seq == 5);
  CHECK(w->origin_incarnation == 99);
  CHECK(w->flags == kFlagLast);
  CHECK(w->target_router == "rb");
  EventPtr back = make_event(*w);
  CHECK(std::string(back->header.type) == "demo.echo");
  CHECK(back->payload_type == "demo.echo");
  CHECK(back->header.id.hi == 1);
  CHECK(back->header.id.lo == 2);
  CHECK(back->header.trace_id.lo == 4);
  CHECK(back->header.correlation_id.hi == 5);
  CHECK(back->header.priority == -7);
  CHECK(back->header.status == EDRI_STATUS_TIMEOUT);
  CHECK(back->header.timestamp_ns == 123456789);
  CHECK(back->header.deadline_ns == 987654321);
  CHECK(std::string(back->header.origin_router) == "ra");
  CHECK(std::string(back->header.sender) == "api");
  CHECK(std::string(back->header.message) == "a message");
  const auto* enc = event_encoded(back.get());
  REQUIRE(enc);
  CHECK(nlohmann::json::from_msgpack(enc->data(), enc->data() + enc->size()) == nlohmann::json{{"text", "hello"}});
}

TEST_CASE("work groups travel in subscriptions, load frames and an event's group section") {
  std::string error;
  const std::vector<SubscriptionEntry> subs{{EDRI_KIND_NOTIFICATION, "a.>", ""},
                                            {EDRI_KIND_NOTIFICATION, "a.>", "crunch"},
                                            {EDRI_KIND_REQUEST, "b.*", "crunch"}};
  auto f = only_frame(encode_subscriptions(subs));
  auto s = decode_subscriptions(f.body, f.len, &error);
  REQUIRE(s);
  CHECK(*s == subs);
  // A group on a tunnel, or an empty group name, is refused.
  f = only_frame(encode_subscriptions({{EDRI_KIND_TUNNEL, "t.x", "crunch"}}));
  CHECK_FALSE(decode_subscriptions(f.body, f.len, &error));
  const std::uint8_t empty_group[] = {1, 0, 0, 0, 0x80, 1, 'a', 0};
  CHECK_FALSE(decode_subscriptions(empty_group, sizeof empty_group, &error));

  const std::vector<GroupLoad> loads{{"crunch", 2, 17, true, 123456789012ull}, {"other", 1, 0, false, 0}};
  f = only_frame(encode_load(loads));
  CHECK(f.type == static_cast<std::uint8_t>(FrameType::load));
  auto l = decode_load(f.body, f.len, &error);
  REQUIRE(l);
  CHECK(*l == loads);
  const std::uint8_t huge_count[] = {0xff, 0xff, 0xff, 0x7f, 1, 'a', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  CHECK_FALSE(decode_load(huge_count, sizeof huge_count, &error));

  // What a router says of the group events it finished or hands back.
  const std::vector<Settlement> settled{{{1, 2}, false}, {{3, 4}, true}};
  f = only_frame(encode_settled(settled));
  CHECK(f.type == static_cast<std::uint8_t>(FrameType::settled));
  auto st = decode_settled(f.body, f.len, &error);
  REQUIRE(st);
  CHECK(*st == settled);
  std::string bad_settled(reinterpret_cast<const char*>(f.body), f.len);
  bad_settled.back() = 2;  // neither finished nor handed back
  CHECK_FALSE(decode_settled(reinterpret_cast<const std::uint8_t*>(bad_settled.data()), bad_settled.size(), &error));
  CHECK_FALSE(decode_settled(f.body, f.len - 1, &error));

  // A router names the groups the switch is to place; the switch gives each
  // receiver a copy naming the groups it serves there.
  EventPtr ev = sample_event();
  const std::vector<std::string> place{"crunch", "index"};
  std::string frame;
  REQUIRE(encode_event(*ev, EDRI_KIND_NOTIFICATION, 0, "", 1, frame, &error, &place));
  set_event_seq(frame.data(), frame.size(), 3);
  set_event_origin_seq(frame.data(), frame.size(), 3);
  f = only_frame(frame);
  WireEvent w;
  REQUIRE(decode_event(f.body, f.len, w, &error));
  CHECK(w.flags == kFlagGroups);
  REQUIRE(w.groups.size() == 2);
  CHECK(w.groups[0] == "crunch");
  CHECK(w.groups[1] == "index");
  const std::string_view mine[] = {"index"};
  const std::string copy = with_groups(reinterpret_cast<const std::uint8_t*>(frame.data()), frame.size(), w, mine, true);
  f = only_frame(copy);
  WireEvent c;
  REQUIRE(decode_event(f.body, f.len, c, &error));
  CHECK(c.flags == (kFlagGroups | kFlagGroupsOnly));
  REQUIRE(c.groups.size() == 1);
  CHECK(c.groups[0] == "index");
  CHECK(c.seq == 3);
  CHECK(std::string_view(reinterpret_cast<const char*>(c.payload), c.payload_len) ==
        std::string_view(reinterpret_cast<const char*>(w.payload), w.payload_len));
  // Placed again, with a receipt: the flags say so and the delivery number
  // reaches the handler.
  std::string again = with_groups(reinterpret_cast<const std::uint8_t*>(frame.data()), frame.size(), w, mine, true,
                                  kFlagReceipt | kFlagRedelivered);
  set_event_redeliveries(again, 2);
  f = only_frame(again);
  REQUIRE(decode_event(f.body, f.len, c, &error));
  CHECK(c.flags == (kFlagGroups | kFlagGroupsOnly | kFlagReceipt | kFlagRedelivered));
  CHECK(c.redeliveries == 2);
  CHECK(event_attempt(*make_event(c)) == 3);
  CHECK(event_attempt(*make_event(w)) == 1);
  // No group at all for this receiver: an empty section, not none.
  const std::string none = with_groups(reinterpret_cast<const std::uint8_t*>(frame.data()), frame.size(), w, {}, false);
  f = only_frame(none);
  REQUIRE(decode_event(f.body, f.len, c, &error));
  CHECK(c.flags == kFlagGroups);
  CHECK(c.groups.empty());
  // A frame without a section is as before; a section that runs past the frame is refused.
  REQUIRE(encode_event(*ev, EDRI_KIND_NOTIFICATION, 0, "", 1, frame, &error));
  set_event_seq(frame.data(), frame.size(), 4);
  set_event_origin_seq(frame.data(), frame.size(), 4);
  f = only_frame(frame);
  REQUIRE(decode_event(f.body, f.len, c, &error));
  CHECK(c.groups.empty());
  std::string cut = copy.substr(0, copy.size() - 2);
  CHECK_FALSE(decode_event(reinterpret_cast<const std::uint8_t*>(cut.data()) + kFrameHead, cut.size() - kFrameHead, c,
                           &error));
}

TEST_CASE("an event from a frame keeps its own copy of every header string, long or empty") {
  // A routing type other than the payload's (as some responses have), names past
  // the small-string size, no message: each must come back as sent, and
  // outlive the frame it was read from.
  const auto payload = nlohmann::json::to_msgpack(nlohmann::json{{"n", 7}});
  const std::string payload_type = "factory.line.sensor.temperature.reading";
  EventPtr ev(event_from_bytes(payload_type, payload.data(), payload.size()));
  auto& h = ev->header;
  h.type = event_set_type(*ev, "the.request.type.this.answers.long");
  h.payload_type = ev->payload_type.data();
  h.kind = EDRI_KIND_RESPONSE;
  h.origin_router = "router-in-the-building-across-the-street";
  h.sender = "a-manager-with-a-long-descriptive-name";
  h.message = "";
  std::string frame;
  REQUIRE(encode_event(*ev, EDRI_KIND_RESPONSE, 0, "", 1, frame, nullptr));
  set_event_seq(frame.data(), frame.size(), 1);
  set_event_origin_seq(frame.data(), frame.size(), 1);
  const auto f = only_frame(frame);
  std::vector<std::uint8_t> body(f.body, f.body + f.len);
  std::string error;
  WireEvent w;
  const bool decoded = decode_event(body.data(), body.size(), w, &error);
  INFO(error);
  REQUIRE(decoded);
  EventPtr back = make_event(w);
  std::fill(body.begin(), body.end(), 0);
  CHECK(back->payload_type == payload_type);
  CHECK(std::string(back->header.payload_type) == payload_type);
  CHECK(std::string(back->header.type) == "the.request.type.this.answers.long");
  CHECK(std::string(back->header.origin_router) == "router-in-the-building-across-the-street");
  CHECK(std::string(back->header.sender) == "a-manager-with-a-long-descriptive-name");
  CHECK(std::string(back->header.message).empty());
  const auto* enc = event_encoded(back.get());
  REQUIRE(enc);
  CHECK(nlohmann::json::from_msgpack(enc->data(), enc->data() + enc->size()) == nlohmann::json{{"n", 7}});
}

TEST_CASE("every truncation and corruption of a frame is refused without a crash") {
  EventPtr ev = sample_event();
  std::string frame;
  REQUIRE(encode_event(*ev, EDRI_KIND_NOTIFICATION, 0, "", 1, frame, nullptr));
  set_event_seq(frame.data(), frame.size(), 1);
  set_event_origin_seq(frame.data(), frame.size(), 1);
  const auto* body = reinterpret_cast<const std::uint8_t*>(frame.data()) + kFrameHead;
  const std::size_t len = frame.size() - kFrameHead;
  std::string error;
  WireEvent w;
  for (std::size_t n = 0; n < len; ++n) {
    INFO("truncated to " << n);
    CHECK_FALSE(decode_event(body, n, w, &error));
  }
  // Trailing garbage, an unknown kind, an invalid type name, sequence 0.
  std::string longer(reinterpret_cast<const char*>(body), len);
  longer.push_back('x');
  CHECK_FALSE(decode_event(reinterpret_cast<const std::uint8_t*>(longer.data()), longer.size(), w, &error));
  CHECK_THAT(error, Catch::Contains("trailing bytes"));
  std::string bad_kind(reinterpret_cast<const char*>(body), len);
  bad_kind[8] = 9;
  CHECK_FALSE(decode_event(reinterpret_cast<const std::uint8_t*>(bad_kind.data()), len, w, &error));
  CHECK_THAT(error, Catch::Contains("unknown kind"));
  std::string no_seq(reinterpret_cast<const char*>(body), len);
  for (int i = 0; i < 8; ++i) no_seq[i] = 0;
  CHECK_FALSE(decode_event(reinterpret_cast<const std::uint8_t*>(no_seq.data()), len, w, &error));
  CHECK_THAT(error, Catch::Contains("without a sequence"));

  // A hello from something that is not edri, and a subscriptions frame whose
  // count would need gigabytes.
  std::string http = "GET / HTTP/1.1\r\n";
  CHECK_FALSE(decode_hello(reinterpret_cast<const std::uint8_t*>(http.data()), http.size(), &error));
  const std::uint8_t huge_count[] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x01, 'a'};
  CHECK_FALSE(decode_subscriptions(huge_count, sizeof huge_count, &error));
  CHECK_THAT(error, Catch::Contains("impossible count"));
}

TEST_CASE("the frame splitter reassembles byte by byte and refuses lengths out of range before buffering") {
  const std::string a = encode_u64_frame(FrameType::ack, 1);
  const std::string b = encode_close("bye");
  const std::string stream = a + b;
  FrameSplitter s(1024);
  std::vector<std::uint8_t> types;
  std::string error;
  for (char c : stream) {
    s.feed(reinterpret_cast<const std::uint8_t*>(&c), 1);
    FrameSplitter::Frame f{};
    while (s.next(f, &error) == FrameSplitter::Next::frame) types.push_back(f.type);
  }
  CHECK(types == std::vector<std::uint8_t>{static_cast<std::uint8_t>(FrameType::ack),
                                          static_cast<std::uint8_t>(FrameType::close)});

  for (std::uint32_t len : {0u, 1025u, 0x80000000u, 0xffffffffu}) {
    FrameSplitter t(1024);
    const std::uint8_t head[4] = {static_cast<std::uint8_t>(len), static_cast<std::uint8_t>(len >> 8),
                                  static_cast<std::uint8_t>(len >> 16), static_cast<std::uint8_t>(len >> 24)};
    t.feed(head, 4);
    FrameSplitter::Frame f{};
    CHECK(t.next(f, &error) == FrameSplitter::Next::error);
    CHECK_THAT(error, Catch::Contains("out of range"));
  }
}

TEST_CASE("a frame given back to the splitter comes out again, in order, until taken") {
  // How a link session keeps event frames it could not deliver yet.
  FrameSplitter held(1 << 20);
  std::string stream;
  for (std::uint64_t i = 1; i <= 3; ++i) stream += encode_u64_frame(FrameType::ack, i);
  held.feed(reinterpret_cast<const std::uint8_t*>(stream.data()), stream.size());
  auto ack_in = [](const FrameSplitter::Frame& f) {
    std::string error;
    return decode_u64(f.body, f.len, &error).value();
  };
  FrameSplitter::Frame f{};
  std::string error;
  REQUIRE(held.next(f, &error) == FrameSplitter::Next::frame);
  CHECK(ack_in(f) == 1);
  REQUIRE(held.next(f, &error) == FrameSplitter::Next::frame);
  CHECK(ack_in(f) == 2);
  held.unget(f);
  CHECK(held.buffered() == 2 * stream.size() / 3);
  REQUIRE(held.next(f, &error) == FrameSplitter::Next::frame);
  CHECK(ack_in(f) == 2);
  REQUIRE(held.next(f, &error) == FrameSplitter::Next::frame);
  CHECK(ack_in(f) == 3);
  CHECK(held.next(f, &error) == FrameSplitter::Next::need_more);
  // Emptied, it keeps a small buffer and frees a large one; either way it
  // takes frames again.
  held.release_if_empty(1u << 20);
  const std::string big(2u << 20, 'x');
  const std::string frame = encode_close(big);
  held.feed(reinterpret_cast<const std::uint8_t*>(frame.data()), frame.size());
  held.release_if_empty(1u << 20);  // not empty: kept
  REQUIRE(held.next(f, &error) == FrameSplitter::Next::frame);
  CHECK(f.type == static_cast<std::uint8_t>(FrameType::close));
  CHECK(f.len == frame.size() - kFrameHead);
  held.release_if_empty(1u << 20);
  CHECK(held.buffered() == 0);
  held.feed(reinterpret_cast<const std::uint8_t*>(stream.data()), stream.size());
  REQUIRE(held.next(f, &error) == FrameSplitter::Next::frame);
  CHECK(ack_in(f) == 1);
}

TEST_CASE("HMAC-SHA256 matches RFC 4231 and the handshake MAC binds secret and nonces") {
  const std::string data = "what do ya want for nothing?";
  const auto mac = hmac_sha256("Jefe", data.data(), data.size());
  std::string hex;
  for (auto b : mac) {
    const char* d = "0123456789abcdef";
    hex += d[b >> 4];
    hex += d[b & 15];
  }
  CHECK(hex == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

  Hello self, peer;
  self.router_id = "ra";
  self.incarnation = 5;
  self.nonce = random_nonce();
  peer.router_id = "hub";
  peer.nonce = random_nonce();
  const auto m = auth_mac("secret", self, peer);
  CHECK(m.size() == kMacSize);
  CHECK(mac_equal(m, auth_mac("secret", self, peer)));
  CHECK_FALSE(mac_equal(m, auth_mac("Secret", self, peer)));
  Hello replayed = peer;
  replayed.nonce = random_nonce();  // a new challenge: an old answer is worthless
  CHECK_FALSE(mac_equal(m, auth_mac("secret", self, replayed)));
  CHECK(auth_mac("", self, peer).empty());
}

TEST_CASE("link state resends what the peer lacks and counts what is gone") {
  LinkState st("peer", ReplayLimits{1 << 20, std::chrono::milliseconds(60'000)});
  for (int i = 0; i < 5; ++i) REQUIRE(st.enqueue(std::string(64, 'x'), true));
  std::vector<FrameSpan> out;
  std::size_t frames = 0;
  REQUIRE(st.take_unwritten(out, 1 << 20, &frames));
  CHECK(frames == 5);
  CHECK(out.size() == 1);  // back to back in one chunk: one buffer for the write
  CHECK(out[0].size == 5 * 64);
  CHECK(st.acked(2));
  CHECK_FALSE(st.acked(99));  // never sent
  CHECK(st.tx_next() == 3);
  // Reconnect: the peer knows us and has 3.
  CHECK(st.resume_tx(true, 3) == 0);
  out.clear();
  frames = 0;
  REQUIRE(st.take_unwritten(out, 1 << 20, &frames));
  CHECK(frames == 2);  // 4 and 5
  // A new incarnation of the peer gets everything still buffered.
  CHECK(st.resume_tx(false, 0) == 0);
  out.clear();
  frames = 0;
  REQUIRE(st.take_unwritten(out, 1 << 20, &frames));
  CHECK(frames == 2);

  // Inbound: in order, duplicates, out of order.
  Gap gap;
  CHECK_FALSE(st.resume_rx(77, 1, &gap));
  CHECK(st.receive(1) == LinkState::Rx::deliver);
  CHECK(st.receive(1) == LinkState::Rx::duplicate);
  CHECK(st.receive(3) == LinkState::Rx::out_of_order);
  // The same incarnation resumes past what we have: a counted gap.
  CHECK(st.resume_rx(77, 10, &gap));
  CHECK(gap.lost == 8);
  CHECK(gap.from_seq == 2);
  CHECK(gap.to_seq == 9);
  CHECK(st.receive(10) == LinkState::Rx::deliver);
  // A new incarnation that did not say goodbye: loss of unknown size.
  Gap g2;
  CHECK(st.resume_rx(78, 1, &g2));
  CHECK(g2.unknown);
  // One that drained and said goodbye first: nothing lost.
  CHECK(st.receive(1) == LinkState::Rx::deliver);
  st.peer_goodbye(1);
  Gap g3;
  CHECK_FALSE(st.resume_rx(79, 1, &g3));
}

TEST_CASE("the replay buffer keeps within its byte and age limits") {
  LinkState st("peer", ReplayLimits{1000, std::chrono::milliseconds(50)});
  for (int i = 0; i < 100; ++i) st.enqueue(std::string(100, 'x'), true);
  edrid::LinkSnapshot s;
  st.snapshot(s);
  CHECK(s.replay_bytes <= 1000);
  CHECK(s.replay_dropped >= 90);
  // The peer had only 5: the buffer lacks what it needs, and says so.
  CHECK(st.resume_tx(true, 5) > 0);
  CHECK(st.expire(std::chrono::steady_clock::now() + std::chrono::seconds(1)) > 0);
  CHECK(st.drained());
}

TEST_CASE("an up link holds senders back at its window and a down one at half its budget") {
  // 100-byte frames; a 10 000-byte budget with a 1 000-byte window.
  ReplayLimits limits{10'000, std::chrono::milliseconds(60'000)};
  limits.window_bytes = 1'000;
  LinkState st("peer", limits, std::chrono::milliseconds(60'000));
  const std::string frame(100, 'x');
  auto fill_to = [&](std::uint64_t frames) {
    while (st.last_sent() < frames) REQUIRE(st.enqueue(frame, true));
  };
  st.set_state("up");
  fill_to(9);
  CHECK_FALSE(st.congested());
  CHECK(st.wait_for_room(std::chrono::milliseconds(1)));
  fill_to(10);
  CHECK(st.congested());
  CHECK_FALSE(st.wait_for_room(std::chrono::milliseconds(1)));
  CHECK_FALSE(st.has_room());
  CHECK(st.acked(4));  // 600 bytes left: not yet half the window
  CHECK_FALSE(st.has_room());
  CHECK_FALSE(st.congested());
  CHECK(st.acked(5));  // 500
  CHECK(st.has_room());
  // Down (within hold_down): what is held back is half the budget, so an
  // outage does not stall senders at the first few frames.
  st.set_state("down");
  fill_to(54);  // 4 900 bytes unacknowledged
  CHECK_FALSE(st.congested());
  fill_to(55);
  CHECK(st.congested());
  // Back up with 5 000 bytes to replay: the window rides on top of what is
  // left of the replay (capped at half the budget here).
  st.set_state("up");
  CHECK(st.congested());
  CHECK(st.acked(50));
  CHECK(st.has_room());
  CHECK_FALSE(st.congested());

  // A smaller replay: new frames may add a window on top of it while it
  // drains, as they could have before the cut.
  LinkState re("peer", limits, std::chrono::milliseconds(60'000));
  auto refill_to = [&](std::uint64_t frames) {
    while (re.last_sent() < frames) REQUIRE(re.enqueue(frame, true));
  };
  refill_to(30);  // down: 3 000 bytes
  re.set_state("up");
  refill_to(39);
  CHECK_FALSE(re.congested());
  refill_to(40);  // 3 000 of replay + 1 000
  CHECK(re.congested());
  CHECK(re.acked(25));  // 1 500 left, 500 of them replay: held at 1 500
  CHECK(re.congested());
  CHECK(re.acked(33));  // 700 left, replay done: held at 1 000, free at 500
  CHECK_FALSE(re.congested());
  CHECK_FALSE(re.has_room());
  CHECK(re.acked(35));
  CHECK(re.has_room());
}

TEST_CASE("the origin filter drops what was delivered before and stale incarnations") {
  OriginFilter f;
  CHECK(f.accept("ra", 10, 1));
  CHECK(f.accept("ra", 10, 5));
  CHECK_FALSE(f.accept("ra", 10, 5));
  CHECK_FALSE(f.accept("ra", 10, 3));
  CHECK(f.accept("rb", 3, 1));
  std::uint64_t previous = 0;
  CHECK(f.accept("ra", 11, 1, &previous));  // restarted
  CHECK(previous == 10);
  CHECK_FALSE(f.accept("ra", 10, 9));  // its previous life
  // Many origins (the table grows and rehashes), in turns and in runs.
  for (std::uint64_t seq = 1; seq <= 3; ++seq) {
    for (int r = 0; r < 200; ++r) CHECK(f.accept("r" + std::to_string(r), 1, seq));
  }
  CHECK_FALSE(f.accept("r7", 1, 3));
  CHECK(f.accept("r7", 1, 4, &previous));
  CHECK(previous == 1);
  CHECK(f.accept("nobody-yet", 5, 1, &previous));
  CHECK(previous == 0);
}

namespace {
// What a write would send: the spans' bytes one after another.
std::string written(const std::vector<FrameSpan>& spans) {
  std::string out;
  for (const auto& s : spans) out.append(s.data(), s.size);
  return out;
}

// Decodes every event frame in `bytes`; their sequence numbers and payload sizes.
std::vector<std::pair<std::uint64_t, std::size_t>> decode_all(const std::string& bytes) {
  FrameSplitter splitter(1 << 24);
  splitter.feed(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  std::vector<std::pair<std::uint64_t, std::size_t>> out;
  FrameSplitter::Frame f{};
  std::string error;
  for (;;) {
    const auto r = splitter.next(f, &error);
    if (r == FrameSplitter::Next::need_more) break;
    REQUIRE(r == FrameSplitter::Next::frame);
    WireEvent e;
    REQUIRE(decode_event(f.body, f.len, e, &error));
    CHECK(e.origin_seq == e.seq);
    out.emplace_back(e.seq, e.payload_len);
  }
  CHECK(splitter.buffered() == 0);
  return out;
}

}  // namespace

TEST_CASE("the replay buffer writes its frames whole and in order across chunks") {
  LinkState st("peer", ReplayLimits{64 << 20, std::chrono::milliseconds(60'000)});
  // Sizes that fill chunks unevenly, and some big enough for a chunk of their own.
  std::vector<std::size_t> sizes;
  for (std::size_t i = 0; i < 2000; ++i) sizes.push_back(i % 97 == 0 ? 40'000 + i : (i * 37) % 700);
  std::vector<std::uint64_t> payload_len;
  for (std::size_t s : sizes) {
    const std::string frame = probe::event_frame(s);
    REQUIRE(st.enqueue(frame, true));
  }
  std::vector<FrameSpan> spans;
  std::size_t frames = 0;
  // Taken in several writes, as a session does.
  std::string bytes;
  while (frames < sizes.size()) {
    const std::size_t before = frames;
    spans.clear();
    REQUIRE(st.take_unwritten(spans, 100'000, &frames));
    REQUIRE(frames > before);
    bytes += written(spans);
  }
  CHECK(spans.size() < frames);  // adjacent frames went out as one buffer
  const auto got = decode_all(bytes);
  REQUIRE(got.size() == sizes.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CHECK(got[i].first == i + 1);
    CHECK(got[i].second >= sizes[i]);
  }
  // Acknowledged frames go; a peer that knows us and has 1500 gets the rest.
  CHECK(st.acked(1000));
  CHECK(st.resume_tx(true, 1500) == 0);
  spans.clear();
  frames = 0;
  REQUIRE(st.take_unwritten(spans, 64 << 20, &frames));
  CHECK(frames == 500);
  const auto rest = decode_all(written(spans));
  REQUIRE(rest.size() == 500);
  CHECK(rest.front().first == 1501);
  CHECK(rest.back().first == 2000);
  CHECK(st.acked(2000));
  CHECK(st.drained());
  // The write in flight still holds its chunks after the buffer let go of them.
  CHECK(decode_all(written(spans)).size() == 500);
}

TEST_CASE("a write in flight keeps frames the buffer dropped on overflow") {
  const std::string frame = probe::event_frame(1000);
  LinkState st("peer", ReplayLimits{frame.size() * 100, std::chrono::milliseconds(60'000)});
  for (int i = 0; i < 100; ++i) REQUIRE(st.enqueue(frame, true));
  std::vector<FrameSpan> spans;
  std::size_t frames = 0;
  REQUIRE(st.take_unwritten(spans, 1 << 20, &frames));
  REQUIRE(frames == 100);
  const std::string before = written(spans);
  // 300 more push every frame above out of the buffer, and reuse nothing it holds.
  for (int i = 0; i < 300; ++i) REQUIRE(st.enqueue(frame, true));
  CHECK(st.tx_next() == 301);
  CHECK(written(spans) == before);
  const auto got = decode_all(before);
  REQUIRE(got.size() == 100);
  CHECK(got.back().first == 100);
  // Frames this connection never wrote were dropped: it must reconnect.
  spans.clear();
  CHECK_FALSE(st.take_unwritten(spans, 1 << 20));
}
