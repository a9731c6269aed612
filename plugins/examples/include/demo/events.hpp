// Events shared by the example plugins. Every plugin that includes this
// header gets the same fingerprints, so Ping and Pong objects pass between
// them in process without being serialised.
#pragma once

#include <edri/event.hpp>

#include <cstdint>
#include <string>

namespace demo {

struct Pong {
  std::uint64_t seq = 0;
  std::string by;  // the answering manager
};
EDRI_EVENT(Pong, "demo.pong", seq, by)

struct Ping {
  using response = Pong;
  std::uint64_t seq = 0;
  std::int64_t sent_ns = 0;  // steady clock of the sender, for round-trip time
};
EDRI_EVENT(Ping, "demo.ping", seq, sent_ns)

struct Echo {
  std::string text;
};
EDRI_EVENT(Echo, "demo.echo", text)

}  // namespace demo
