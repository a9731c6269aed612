// edri::ByteString and edri::Draft: byte fields that live inside their
// event, written once by the sender and read in place by the receiver, or
// read uncopied from the encoding of an event that arrived encoded; their
// encoding, which is a std::string field's; and what happens past a draft's
// room, to a draft never sent, and on a host older than ABI 1.2.
#include "plugin/host_api.hpp"
#include "router/router.hpp"

#include <edri/edri.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <future>
#include <string>

using namespace std::chrono_literals;

namespace draft_probe {

struct Frame {
  std::uint32_t channel = 0;
  edri::ByteString body;
};
EDRI_EVENT(Frame, "probe.frame", channel, body)

// The same declaration with a std::string: another router's or plugin's view.
struct TextFrame {
  std::uint32_t channel = 0;
  std::string body;
};
EDRI_EVENT(TextFrame, "probe.frame", channel, body)

struct Counted {
  static inline int live = 0;
  Counted() { ++live; }
  Counted(const Counted& o) : body(o.body) { ++live; }
  Counted& operator=(const Counted&) = default;
  ~Counted() { --live; }
  edri::ByteString body;
};
EDRI_EVENT(Counted, "probe.counted", body)

// What the sink saw of the last frame: its body, and where it was.
struct Seen {
  std::string body;
  std::uint32_t channel = 0;
  bool body_follows_object = false;
};
std::promise<Seen>* g_seen = nullptr;
edri::Context* g_driver = nullptr;

struct Driver : edri::Manager {
  Driver(edri::Context& ctx, const edri::Config&) : Manager(ctx) { g_driver = &ctx; }
};

struct Sink : edri::Manager {
  Sink(edri::Context& ctx, const edri::Config&) : Manager(ctx) {
    ctx.on_notification<Frame>([](const Frame& f) {
      // A draft's room starts right after the object: a body there was
      // read in place, not decoded into an allocation of its own.
      const char* after = reinterpret_cast<const char*>(&f) + sizeof(Frame);
      g_seen->set_value(Seen{f.body.str(), f.channel, f.body.data() == after});
    });
    ctx.on_request<Frame>([&ctx](const Frame& f, edri::Reply<Frame>& r) {
      auto d = ctx.draft<Frame>(f.body.size() + 1);
      d->channel = f.channel + 1;
      d->body = d.bytes(f.body.str() + "!");
      r.set(std::move(d));
    });
  }
};

std::unique_ptr<edrid::Router> make_router() {
  edrid::RouterOptions o;
  o.id = "draft-test";
  auto r = std::make_unique<edrid::Router>(o);
  r->add_manager("driver", edri::descriptor_of<Driver>("driver", "1"), "driver", {}, "{}");
  r->add_manager("sink", edri::descriptor_of<Sink>("sink", "1"), "sink", {}, "{}");
  r->start();
  return r;
}

template <class T>
std::vector<std::uint8_t> encode(const T& v) {
  std::vector<std::uint8_t> out;
  auto write = [](void* sink, const std::uint8_t* d, std::size_t n) {
    auto* o = static_cast<std::vector<std::uint8_t>*>(sink);
    o->insert(o->end(), d, d + n);
  };
  REQUIRE(edri::type_ops<T>()->encode(&v, EDRI_FORMAT_MSGPACK, write, &out, nullptr) == EDRI_OK);
  return out;
}

}  // namespace draft_probe

using draft_probe::Frame;
using draft_probe::TextFrame;

TEST_CASE("a ByteString copies into its own bytes, moves without copying, and compares by content") {
  edri::ByteString a("hello");
  edri::ByteString b = a;
  CHECK(b == a);
  CHECK(b == std::string_view("hello"));
  CHECK(b.data() != a.data());
  const char* bytes = b.data();
  edri::ByteString c = std::move(b);
  CHECK(c.data() == bytes);
  CHECK(b.empty());
  CHECK(edri::ByteString().size() == 0);
  const std::string binary("a\0b", 3);
  CHECK(edri::ByteString(binary).size() == 3);
}

TEST_CASE("a ByteString field encodes as a std::string field does, both ways") {
  Frame f;
  f.channel = 7;
  f.body = edri::ByteString(std::string(300, 'z'));
  const auto bytes = draft_probe::encode(f);
  TextFrame t;
  t.channel = 7;
  t.body = std::string(300, 'z');
  CHECK(bytes == draft_probe::encode(t));

  const auto back = edri::detail::read_msgpack<Frame>(bytes.data(), bytes.size());
  CHECK(back.channel == 7);
  CHECK(back.body == std::string(300, 'z'));
  CHECK(edri::json(f) == edri::json{{"channel", 7}, {"body", std::string(300, 'z')}});
  CHECK(edri::json(f).get<Frame>().body == f.body);

  // A binary value (a MessagePack bin from another encoder) reads too.
  const std::vector<std::uint8_t> bin{0x81, 0xa4, 'b', 'o', 'd', 'y', 0xc4, 0x02, 0x00, 0xff};
  CHECK(edri::detail::read_msgpack<Frame>(bin.data(), bin.size()).body == std::string("\0\xff", 2));
  const std::vector<std::uint8_t> number{0x81, 0xa4, 'b', 'o', 'd', 'y', 0x05};
  CHECK_THROWS(edri::detail::read_msgpack<Frame>(number.data(), number.size()));
}

TEST_CASE("a draft's bytes live inside its event and the receiver reads them in place") {
  auto router = draft_probe::make_router();
  std::promise<draft_probe::Seen> seen;
  draft_probe::g_seen = &seen;
  const std::string body(256, 'q');

  auto d = draft_probe::g_driver->draft<Frame>(body.size());
  CHECK(d.room() == 256);
  d->channel = 3;
  d->body = d.bytes(body);
  CHECK(d.room() == 0);
  CHECK(draft_probe::g_driver->notify(std::move(d)) == 1);

  auto f = seen.get_future();
  REQUIRE(f.wait_for(5s) == std::future_status::ready);
  const auto s = f.get();
  CHECK(s.body == body);
  CHECK(s.channel == 3);
  CHECK(s.body_follows_object);
}

TEST_CASE("a draft goes as a request and comes back as a drafted reply") {
  auto router = draft_probe::make_router();
  auto d = draft_probe::g_driver->draft<Frame>(5);
  d->channel = 1;
  d->body = d.bytes("ping");
  const auto r = draft_probe::g_driver->call(std::move(d));
  REQUIRE(r.ok());
  CHECK(r.data()->channel == 2);
  CHECK(r.data()->body == std::string_view("ping!"));
}

TEST_CASE("past its room a draft copies bytes into their own allocation, and an unsent draft is freed") {
  edri::Context ctx(&edrid::host_api(), nullptr, "standalone");
  REQUIRE(draft_probe::Counted::live == 0);
  {
    auto d = ctx.draft<draft_probe::Counted>(8);
    CHECK(draft_probe::Counted::live == 1);
    const char* room_start = reinterpret_cast<const char*>(&*d) + sizeof(draft_probe::Counted);
    auto first = d.bytes("12345");
    CHECK(first.data() == room_start);
    CHECK(d.room() == 3);
    auto second = d.bytes("too long for the rest");  // does not fit: its own copy
    CHECK(second == std::string_view("too long for the rest"));
    CHECK(second.data() != room_start + 5);
    CHECK(d.room() == 3);
    d->body = std::move(second);
  }
  CHECK(draft_probe::Counted::live == 0);  // destroyed with the event, never sent
}

TEST_CASE("on a host older than ABI 1.2 a draft works, with bytes in allocations of their own") {
  edri_host_api old = edrid::host_api();
  old.struct_size = offsetof(edri_host_api, event_alloc_room);
  old.event_alloc_room = nullptr;  // a call would crash
  edri::Context ctx(&old, nullptr, "old-host");
  auto d = ctx.draft<Frame>(64);
  CHECK(d.room() == 0);
  d->body = d.bytes("still works");
  CHECK(d->body == std::string_view("still works"));
  CHECK(d->body.data() != reinterpret_cast<const char*>(&*d) + sizeof(Frame));
}

TEST_CASE("a handler reads the ByteString of an event that arrived encoded in the encoding itself") {
  // As from a link or a worker: the payload arrives as its MessagePack bytes.
  TextFrame t;
  t.channel = 9;
  t.body = std::string(300, 'e');
  const auto bytes = draft_probe::encode(t);
  edri_event* ev = edrid::host_api().event_from_bytes(nullptr, "probe.frame", EDRI_FORMAT_MSGPACK, bytes.data(),
                                                      bytes.size());
  REQUIRE(ev);
  edri_bytes enc{};
  REQUIRE(edrid::host_api().event_encoded(ev, EDRI_FORMAT_MSGPACK, &enc) == EDRI_OK);
  edri::detail::PayloadView<Frame> view(&edrid::host_api(), ev);
  CHECK(view.get()->channel == 9);
  CHECK(view.get()->body == t.body);
  const auto* at = reinterpret_cast<const char*>(enc.data);
  CHECK(view.get()->body.data() > at);
  CHECK(view.get()->body.data() + 300 == at + enc.len);  // the last field: the encoding's tail
  const Frame copy = *view.get();
  CHECK(copy.body.data() != view.get()->body.data());  // a copy owns its bytes
  edrid::host_api().event_release(ev);
  CHECK(copy.body == t.body);
}
