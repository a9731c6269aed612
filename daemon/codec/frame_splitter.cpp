#include "codec/frame_splitter.hpp"

namespace edrid::codec {

void FrameSplitter::feed(const std::uint8_t* data, std::size_t n) {
  if (pos_ > 0 && pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > 65536 && pos_ * 2 > buf_.size()) {
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(pos_));
    pos_ = 0;
  }
  buf_.insert(buf_.end(), data, data + n);
}

void FrameSplitter::release_if_empty(std::size_t keep) {
  if (buffered() != 0 || buf_.capacity() <= keep) return;
  std::vector<std::uint8_t>().swap(buf_);
  pos_ = 0;
}

FrameSplitter::Next FrameSplitter::next(Frame& out, std::string* error) {
  const std::size_t avail = buf_.size() - pos_;
  if (avail < 4) return Next::need_more;
  const std::uint8_t* p = buf_.data() + pos_;
  const std::uint32_t len = p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
  // Checked before waiting for (or reserving room for) the body.
  if (len == 0 || len > max_frame_) {
    if (error) {
      *error = "frame length " + std::to_string(len) + " out of range (limit " + std::to_string(max_frame_) + ")";
    }
    return Next::error;
  }
  if (avail - 4 < len) return Next::need_more;
  out.type = p[4];
  out.body = p + kFrameHead;
  out.len = len - 1;
  pos_ += 4 + len;
  return Next::frame;
}

}  // namespace edrid::codec
