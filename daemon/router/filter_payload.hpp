// The payload bytes the content filters of one event's receivers read. A
// typed event that stays in this process has no encoding, and keeping one
// only for its filters would cost an allocation per event: it is encoded
// once, on first need, into a buffer this thread reuses. One that has its
// encoding (from another router, or encoded for a link already) is read in
// place.
#pragma once

#include "event/content_filter.hpp"
#include "event/event.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

namespace edrid {

class FilterPayload {
 public:
  explicit FilterPayload(const Event& ev) noexcept : ev_(ev) {}
  ~FilterPayload() {
    if (!owns_buffer_) return;
    // A rare huge payload does not keep its memory for the thread's life.
    if (buffer().capacity() > kKeepBytes) std::string().swap(buffer());
    buffer_busy() = false;
  }
  FilterPayload(const FilterPayload&) = delete;
  FilterPayload& operator=(const FilterPayload&) = delete;

  bool passes(const ContentFilter& f) { return load() && f.matches(data_, len_); }

 private:
  static constexpr std::size_t kKeepBytes = 64 * 1024;
  static std::string& buffer() noexcept {
    thread_local std::string b;
    return b;
  }
  // Set while a FilterPayload on this thread reads the buffer: a send made
  // meanwhile on the same thread (a dropped request's answer) takes the
  // cached encoding instead.
  static bool& buffer_busy() noexcept {
    thread_local bool busy = false;
    return busy;
  }
  bool load() {
    if (loaded_) return ok_;
    loaded_ = true;
    const EncodedPayload* enc = ev_.encoded.load(std::memory_order_acquire);
    if (!enc && !buffer_busy()) {
      buffer_busy() = true;
      owns_buffer_ = true;
      std::string& b = buffer();
      b.clear();
      if (!event_encode_to(&ev_, b)) return ok_ = false;
      data_ = reinterpret_cast<const std::uint8_t*>(b.data());
      len_ = b.size();
      return ok_ = true;
    }
    if (!enc) enc = event_encoded(&ev_);
    if (!enc) return ok_ = false;
    data_ = enc->data();
    len_ = enc->size();
    return ok_ = true;
  }

  const Event& ev_;
  const std::uint8_t* data_ = nullptr;
  std::size_t len_ = 0;
  bool loaded_ = false;
  bool ok_ = false;
  bool owns_buffer_ = false;
};

}  // namespace edrid
