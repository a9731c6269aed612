// The events of the benchmarks, shared by edri-bench and the bench_probe
// plugin of the multi-process scenario.
#pragma once

#include <edri/edri.hpp>

#include <string>

namespace bench {

struct Blob {
  static constexpr bool shareable = true;  // crosses the switch in the cluster scenarios
  std::string data;
};
EDRI_EVENT(Blob, "bench.blob", data)

// The same payload as an edri::ByteString written into the event by a Draft
// (--payload bytes): one allocation per event instead of two.
struct Chunk {
  static constexpr bool shareable = true;
  edri::ByteString data;
};
EDRI_EVENT(Chunk, "bench.chunk", data)

// From the receiving router to the sending one: "I am subscribed, start".
struct Go {
  static constexpr bool shareable = true;
  std::uint64_t round = 0;
};
EDRI_EVENT(Go, "bench.go", round)

}  // namespace bench
