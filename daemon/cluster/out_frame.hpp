// An outbound frame as a link's replay buffer keeps it: reference count,
// length and bytes in one allocation. The buffer and a write in flight share
// it (a frame dropped from the buffer by a publisher's overflow may still be
// on its way to the socket); a std::shared_ptr<std::string> took two
// allocations per frame, and the switch makes one for every frame it
// forwards.
#pragma once

#include <boost/smart_ptr/intrusive_ptr.hpp>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <new>
#include <string_view>

namespace edrid::cluster {

class OutFrame {
 public:
  // A copy of `bytes`; the only reference, so the caller may still patch
  // fields (the link sequence) through mutable_data() before sharing it.
  static boost::intrusive_ptr<OutFrame> copy_of(std::string_view bytes) {
    void* mem = ::operator new(sizeof(OutFrame) + bytes.size());
    auto* f = new (mem) OutFrame(static_cast<std::uint32_t>(bytes.size()));
    std::memcpy(f->mutable_data(), bytes.data(), bytes.size());
    return boost::intrusive_ptr<OutFrame>(f);
  }

  const char* data() const noexcept { return reinterpret_cast<const char*>(this + 1); }
  char* mutable_data() noexcept { return reinterpret_cast<char*>(this + 1); }
  std::size_t size() const noexcept { return size_; }

  OutFrame(const OutFrame&) = delete;
  OutFrame& operator=(const OutFrame&) = delete;

  friend void intrusive_ptr_add_ref(const OutFrame* f) noexcept {
    f->refs_.fetch_add(1, std::memory_order_relaxed);
  }
  friend void intrusive_ptr_release(const OutFrame* f) noexcept {
    if (f->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      f->~OutFrame();
      ::operator delete(const_cast<OutFrame*>(f));
    }
  }

 private:
  explicit OutFrame(std::uint32_t size) noexcept : size_(size) {}
  ~OutFrame() = default;

  mutable std::atomic<std::uint32_t> refs_{0};
  const std::uint32_t size_;
};

static_assert(sizeof(OutFrame) == 8);

}  // namespace edrid::cluster
