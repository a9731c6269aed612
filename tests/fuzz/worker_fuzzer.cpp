// libFuzzer target: arbitrary bytes as what a worker process writes to
// edrid. Every frame the splitter yields is decoded; nothing may crash, leak
// or read out of bounds (built with ASan and UBSan), and a frame that
// decodes encodes back to exactly its bytes (the encoding is canonical, so
// nothing is lost or invented on the way).
#include "codec/frame_splitter.hpp"
#include "exec/worker_protocol.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

using namespace edrid;

namespace {
void drain(codec::FrameSplitter& s) {
  codec::FrameSplitter::Frame f{};
  std::string error;
  while (s.next(f, &error) == codec::FrameSplitter::Next::frame) {
    auto frame = worker::decode(f.type, f.body, f.len, &error);
    if (!frame) continue;
    const std::string again = worker::encode(*frame);
    if (again.size() != f.len + codec::kFrameHead ||
        std::memcmp(again.data() + codec::kFrameHead, f.body, f.len) != 0 ||
        static_cast<std::uint8_t>(again[4]) != f.type) {
      __builtin_trap();
    }
    std::visit(
        [](const auto& fr) {
          if constexpr (requires { fr.payload.bytes; }) {
            (void)worker::event_of(fr.payload);
          }
        },
        *frame);
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Split the input in two reads to exercise reassembly across feeds.
  const std::size_t cut = size ? data[0] % (size + 1) : 0;
  codec::FrameSplitter s(1u << 16);
  s.feed(data, cut);
  drain(s);
  s.feed(data + cut, size - cut);
  drain(s);
  return 0;
}
