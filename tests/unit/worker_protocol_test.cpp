// The worker protocol's codec and stream, without processes: every frame
// round trip, every truncation, every split point, and values a field does
// not allow.
#include "exec/worker_channel.hpp"
#include "exec/worker_protocol.hpp"

#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <thread>

using namespace edrid;
using namespace edrid::worker;

namespace {

constexpr std::string_view kBytes("\x93\x01\xa1x\x00\xff", 6);

// One frame of each type, every field set to something other than its default.
std::vector<Frame> one_of_each() {
  SendOptions opts{-3, 1, 250, EDRI_SEND_NO_WAIT, edri_id128{7, 8}, "order-42"};
  Payload p{"demo.echo", true, kBytes};
  return {
      Init{R"({"a":1})", EDRI_LOG_DEBUG},
      InitError{"create failed"},
      Ready{},
      Task{42, 3, EDRI_KIND_TUNNEL, "demo.echo", {1, 2}, {3, 4}, -5, "api", "ra", 1111, 2222, 65536, 3, p},
      Done{42, EDRI_STATUS_ERROR, "nope", std::string_view("boom"), TunnelDecision{true, "why"}, p, 1500},
      Log{EDRI_LOG_WARN, "careful"},
      Notify{9, opts, p},
      Notified{9, EDRI_E_AGAIN, 4},
      Request{10, SendOptions{}, Payload{"calc.add", false, ""}},
      Response{10, EDRI_STATUS_TIMEOUT, "late", "calc", "calc.add", {5, 6}, {7, 8}, false, std::nullopt},
      TunnelOpen{11, "file.upload", 3000, p},
      TunnelOpened{11, EDRI_STATUS_OK, "", {9, 10}, 1 << 20},
      TunnelMsg{{9, 10}, 1, kBytes},
      TunnelCredit{{9, 10}, 0, 4096},
      TunnelPeerClosed{{9, 10}, 1, EDRI_STATUS_ERROR, "gone", true},
      TunnelSend{{9, 10}, 0, kBytes},
      TunnelConsumed{{9, 10}, 1, 6},
      TunnelShutdown{{9, 10}, 0},
      TunnelClose{{9, 10}, 1, EDRI_STATUS_REJECTED, "enough"},
      TunnelRelease{{9, 10}, 0},
  };
}

bool same(const edri_id128& a, const edri_id128& b) { return a.hi == b.hi && a.lo == b.lo; }
bool same(const Payload& a, const Payload& b) { return a.type == b.type && a.shared == b.shared && a.bytes == b.bytes; }
bool same(const SendOptions& a, const SendOptions& b) {
  return a.priority == b.priority && a.has_priority == b.has_priority && a.timeout_ms == b.timeout_ms &&
         a.flags == b.flags && a.trace.has_value() == b.trace.has_value() && (!a.trace || same(*a.trace, *b.trace)) &&
         a.dedupe_key == b.dedupe_key;
}
bool same(const TunnelDecision& a, const TunnelDecision& b) { return a.accepted == b.accepted && a.reason == b.reason; }
template <class T>
bool same(const T& a, const T& b) {
  return a == b;
}
template <class T>
bool same(const std::optional<T>& a, const std::optional<T>& b) {
  return a.has_value() == b.has_value() && (!a || same(*a, *b));
}

// Field by field: every field of every frame must come back as it went.
bool same_frame(const Frame& a, const Frame& b) {
  if (a.index() != b.index()) return false;
  return std::visit(
      [&](const auto& fa) {
        const auto& fb = std::get<std::decay_t<decltype(fa)>>(b);
        return std::apply(
            [&](const auto&... x) {
              return std::apply([&](const auto&... y) { return (same(x, y) && ...); }, fb.fields());
            },
            fa.fields());
      },
      a);
}

std::optional<Frame> decode_whole(const std::string& bytes, std::string* error) {
  REQUIRE(bytes.size() >= codec::kFrameHead);
  const auto* p = reinterpret_cast<const std::uint8_t*>(bytes.data());
  return decode(p[4], p + codec::kFrameHead, bytes.size() - codec::kFrameHead, error);
}

}  // namespace

TEST_CASE("every worker frame comes back field by field, and its type has a name") {
  for (const auto& f : one_of_each()) {
    const std::string bytes = encode(f);
    INFO(frame_type_name(static_cast<std::uint8_t>(f.index() + 1)));
    std::string error;
    auto back = decode_whole(bytes, &error);
    REQUIRE(back);
    CHECK(error.empty());
    CHECK(same_frame(f, *back));
    CHECK(std::string(frame_type_name(static_cast<std::uint8_t>(f.index() + 1))) != "unknown");
  }
  CHECK(std::string(frame_type_name(0)) == "unknown");
  CHECK(std::string(frame_type_name(21)) == "unknown");
}

TEST_CASE("every truncation of every worker frame, and a byte too many, is refused without a crash") {
  for (const auto& f : one_of_each()) {
    const std::string bytes = encode(f);
    const auto* p = reinterpret_cast<const std::uint8_t*>(bytes.data());
    const std::size_t body = bytes.size() - codec::kFrameHead;
    const char* name = frame_type_name(p[4]);
    INFO(name);
    for (std::size_t n = 0; n < body; ++n) {
      INFO(n);
      std::string error;
      CHECK_FALSE(decode(p[4], p + codec::kFrameHead, n, &error));
      CHECK(error == std::string("truncated or malformed ") + name + " frame");
    }
    std::string longer = bytes + '\0';
    std::string error;
    CHECK_FALSE(decode(p[4], reinterpret_cast<const std::uint8_t*>(longer.data()) + codec::kFrameHead, body + 1,
                       &error));
    CHECK(error == std::string("trailing bytes in ") + name + " frame");
  }
}

TEST_CASE("a worker frame with an unknown type or a boolean other than 0 or 1 is refused") {
  std::string error;
  const std::uint8_t nothing[1] = {0};
  CHECK_FALSE(decode(0, nothing, 0, &error));
  CHECK(error == "unknown frame type 0");
  CHECK_FALSE(decode(200, nothing, 0, &error));
  CHECK(error == "unknown frame type 200");
  // A frame of the right length is still refused when a flag byte says 2.
  std::string bytes = encode(TunnelPeerClosed{{1, 2}, 0, 0, "", true});
  bytes.back() = 2;  // `over`
  CHECK_FALSE(decode_whole(bytes, &error));
  CHECK(error == "truncated or malformed tunnel_peer_closed frame");
  bytes = encode(Response{});
  bytes.back() = 7;  // payload presence
  CHECK_FALSE(decode_whole(bytes, &error));
}

TEST_CASE("worker frames fed byte by byte to the splitter come out whole, in order") {
  std::string stream;
  const auto frames = one_of_each();
  for (const auto& f : frames) stream += encode(f);
  codec::FrameSplitter splitter(kMaxFrame);
  std::size_t got = 0;
  for (char c : stream) {
    const auto byte = static_cast<std::uint8_t>(c);
    splitter.feed(&byte, 1);
    codec::FrameSplitter::Frame f{};
    std::string error;
    while (splitter.next(f, &error) == codec::FrameSplitter::Next::frame) {
      REQUIRE(got < frames.size());
      auto back = decode(f.type, f.body, f.len, &error);
      REQUIRE(back);
      CHECK(same_frame(frames[got], *back));
      ++got;
    }
  }
  CHECK(got == frames.size());
}

TEST_CASE("a worker stream reads frames written in pieces, refuses a length over the limit before its body, and "
          "tells end of stream from a cut frame") {
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  Channel out(sv[0]);
  FrameStream in(sv[1]);
  std::string large(200'000, 'x');
  std::thread writer([&] {
    CHECK(out.send(Log{EDRI_LOG_INFO, "one"}));
    CHECK(out.send(TunnelSend{{1, 1}, 0, large}));
    // A frame cut short, then the end of the stream.
    const std::string cut = encode(Log{EDRI_LOG_INFO, "never whole"});
    CHECK(::write(sv[0], cut.data(), cut.size() - 3) == static_cast<ssize_t>(cut.size() - 3));
    out.shutdown();
  });
  std::string error;
  auto first = in.next(&error);
  REQUIRE(first);
  CHECK(std::get<Log>(*first).message == "one");
  auto second = in.next(&error);
  REQUIRE(second);
  CHECK(std::get<TunnelSend>(*second).data == large);
  CHECK_FALSE(in.next(&error));
  CHECK(error == "connection closed inside a frame");
  writer.join();
  ::close(sv[1]);

  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  Channel liar(sv[0]);
  FrameStream reader(sv[1]);
  const std::uint8_t huge[5] = {0xff, 0xff, 0xff, 0xff, 6};  // 4 GiB claimed, never sent
  CHECK(::write(sv[0], huge, sizeof huge) == 5);
  CHECK_FALSE(reader.next(&error));
  CHECK(error == "frame length 4294967295 out of range (limit 67108864)");
  liar.shutdown();
  FrameStream at_end(sv[1]);
  CHECK_FALSE(at_end.next(&error));
  CHECK(error.empty());  // a clean end of stream
  ::close(sv[1]);
}
