// libFuzzer target: arbitrary bytes as a link stream. Every frame the
// splitter yields goes through the decoder for its type; nothing may crash,
// leak or read out of bounds (built with ASan and UBSan). Content filters
// from subscriptions frames are compiled, and every event's payload is put
// through them and through filters that use every operator. The input is
// also read as a durable queue record (a file on disk is input too): what
// reads back must write back to a record that reads back the same.
#include "cluster/wire.hpp"
#include "event/content_filter.hpp"
#include "manager/journal_record.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

using namespace edrid::cluster;

namespace {
using edrid::ContentFilter;

std::vector<std::shared_ptr<const ContentFilter>>& filters() {
  static std::vector<std::shared_ptr<const ContentFilter>> all = [] {
    std::vector<std::shared_ptr<const ContentFilter>> v;
    for (const char* text :
         {R"({"a": 1, "b.c": {"gt": 2.5, "lte": "z"}, "d": ["x", null, true]})",
          R"({"$or": [{"s": {"prefix": "p", "suffix": "q"}}, {"s": {"contains": "\u0000"}}], "$not": {"t": {"present": true}}})",
          R"({"s": {"regex": "^(a|b)+c?$"}, "n": {"ne": -1, "one_of": [1, 2, 18446744073709551615]}})"}) {
      v.push_back(ContentFilter::parse(text));
    }
    return v;
  }();
  return all;
}

void learn(const std::vector<SubscriptionEntry>& entries) {
  for (const auto& e : entries) {
    // As the switch reads them.
    std::string why;
    auto f = ContentFilter::from_peer(e.filter, &why);
    if (!f) continue;
    // What compiled must print back to text that compiles to the same.
    if (ContentFilter::parse(f->text())->text() != f->text()) __builtin_trap();
    if (filters().size() < 16) filters().push_back(std::move(f));
  }
}

void drain(FrameSplitter& s) {
  FrameSplitter::Frame f{};
  std::string error;
  while (s.next(f, &error) == FrameSplitter::Next::frame) {
    switch (static_cast<FrameType>(f.type)) {
      case FrameType::hello: (void)decode_hello(f.body, f.len, &error); break;
      case FrameType::auth: (void)decode_auth(f.body, f.len, &error); break;
      case FrameType::resume: (void)decode_resume(f.body, f.len, &error); break;
      case FrameType::subscriptions:
        if (auto subs = decode_subscriptions(f.body, f.len, &error)) learn(*subs);
        break;
      case FrameType::ack:
      case FrameType::heartbeat:
      case FrameType::goodbye: (void)decode_u64(f.body, f.len, &error); break;
      case FrameType::close: (void)decode_close(f.body, f.len, &error); break;
      case FrameType::load: (void)decode_load(f.body, f.len, &error); break;
      case FrameType::settled: (void)decode_settled(f.body, f.len, &error); break;
      case FrameType::event:
        if (WireEvent e; decode_event(f.body, f.len, e, &error) && e.kind != kWireFanout) {
          for (const auto& filter : filters()) (void)filter->matches(e.payload, e.payload_len);
          auto ev = make_event(e);
          (void)edrid::event_encoded(ev.get());
          // What a switch does with a group event: a copy with another
          // group section, which must decode to what was put in.
          std::string whole(kFrameHead, '\0');
          whole[4] = static_cast<char>(f.type);
          whole.append(reinterpret_cast<const char*>(f.body), f.len);
          const std::string_view mine[] = {"crunch"};
          const std::string copy = with_groups(reinterpret_cast<const std::uint8_t*>(whole.data()), whole.size(), e,
                                               mine, true);
          WireEvent back;
          if (!decode_event(reinterpret_cast<const std::uint8_t*>(copy.data()) + kFrameHead, copy.size() - kFrameHead,
                            back, &error) ||
              back.groups.size() != 1 || back.groups[0] != "crunch" || back.payload_len != e.payload_len) {
            __builtin_trap();
          }
        }
        break;
    }
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Split the input in two reads to exercise reassembly across feeds.
  const std::size_t cut = size ? data[0] % (size + 1) : 0;
  // The input itself as a payload too: the filters' MessagePack reader sees
  // every shape of hostile map, not only what a valid event frame holds.
  for (const auto& filter : filters()) (void)filter->matches(data, size);
  if (auto rec = edrid::decode_journal_record(data, size, nullptr)) {
    std::string once, twice, why;
    if (!edrid::encode_journal_record(*rec->event, rec->priority, once, &why)) __builtin_trap();
    auto back = edrid::decode_journal_record(reinterpret_cast<const std::uint8_t*>(once.data()), once.size(), &why);
    if (!back || !edrid::encode_journal_record(*back->event, back->priority, twice, &why) || once != twice) {
      __builtin_trap();
    }
  }
  FrameSplitter s(1u << 16);
  s.feed(data, cut);
  drain(s);
  s.feed(data + cut, size - cut);
  drain(s);
  return 0;
}
