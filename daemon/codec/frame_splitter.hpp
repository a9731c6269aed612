// Splits a byte stream of length-prefixed frames (byte_writer.hpp) into
// frames, without blocking: input is appended with feed(); next() returns
// each whole frame in turn. A length is checked against the limit before
// any room is reserved for its body.
#pragma once

#include "codec/byte_writer.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace edrid::codec {

class FrameSplitter {
 public:
  explicit FrameSplitter(std::uint32_t max_frame) : max_frame_(max_frame) {}
  void set_max_frame(std::uint32_t max_frame) noexcept { max_frame_ = max_frame; }

  struct Frame {
    std::uint8_t type;
    const std::uint8_t* body;
    std::size_t len;
  };
  enum class Next { frame, need_more, error };

  void feed(const std::uint8_t* data, std::size_t n);
  // `frame` (valid until the next feed or next call), `need_more`, or `error`
  // with *error set (the stream is unusable after it).
  Next next(Frame& out, std::string* error);
  // Gives back the frame next() just returned: the next call returns it again.
  void unget(const Frame& f) noexcept { pos_ -= kFrameHead + f.len; }
  std::size_t buffered() const noexcept { return buf_.size() - pos_; }
  // Frees the buffer while it holds no bytes and has grown past `keep`
  // bytes (a burst made it large).
  void release_if_empty(std::size_t keep);

 private:
  std::uint32_t max_frame_;
  std::vector<std::uint8_t> buf_;
  std::size_t pos_ = 0;
};

}  // namespace edrid::codec
