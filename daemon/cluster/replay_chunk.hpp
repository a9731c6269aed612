// A block of a link's replay buffer: event frames appended back to back in
// sequence order, with a reference count. The buffer keeps a chunk while any
// of its frames is unacknowledged, and a write in flight keeps the chunks it
// reads from (a chunk the buffer let go of on overflow may still be on its
// way to the socket).
//
// Why chunks and not a block per frame: a frame costs a copy into the chunk
// and nothing else, where a block of its own cost an allocation on the
// publishing thread, a free and two reference-count changes on the io
// thread, and one iovec per frame in the write; and the new block, freed
// last by the io thread, had to be fetched from that thread's core first.
#pragma once

#include <boost/smart_ptr/intrusive_ptr.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string_view>

namespace edrid::cluster {

class alignas(16) ReplayChunk {
 public:
  // Room for a few hundred ordinary frames; one write reads at most this
  // much from one place.
  static constexpr std::size_t kCapacity = 64 * 1024;

  static boost::intrusive_ptr<ReplayChunk> make(std::size_t capacity) {
    void* mem = ::operator new(sizeof(ReplayChunk) + capacity);
    return boost::intrusive_ptr<ReplayChunk>(new (mem) ReplayChunk(static_cast<std::uint32_t>(capacity)));
  }

  std::size_t room() const noexcept { return capacity_ - used_; }
  // Copies `bytes` after what the chunk holds (the caller checked room());
  // returns where they start.
  std::uint32_t append(std::string_view bytes) noexcept {
    const std::uint32_t at = used_;
    std::memcpy(bytes_() + at, bytes.data(), bytes.size());
    used_ += static_cast<std::uint32_t>(bytes.size());
    return at;
  }
  char* at(std::uint32_t offset) noexcept { return bytes_() + offset; }
  const char* at(std::uint32_t offset) const noexcept { return const_cast<ReplayChunk*>(this)->at(offset); }

  ReplayChunk(const ReplayChunk&) = delete;
  ReplayChunk& operator=(const ReplayChunk&) = delete;

  friend void intrusive_ptr_add_ref(const ReplayChunk* c) noexcept {
    c->refs_.fetch_add(1, std::memory_order_relaxed);
  }
  friend void intrusive_ptr_release(const ReplayChunk* c) noexcept {
    if (c->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      c->~ReplayChunk();
      ::operator delete(const_cast<ReplayChunk*>(c));
    }
  }

 private:
  explicit ReplayChunk(std::uint32_t capacity) noexcept : capacity_(capacity) {}
  ~ReplayChunk() = default;
  char* bytes_() noexcept { return reinterpret_cast<char*>(this + 1); }

  mutable std::atomic<std::uint32_t> refs_{0};
  const std::uint32_t capacity_;
  std::uint32_t used_ = 0;
};

// Frames that lie back to back in one chunk, handed to a write together.
struct FrameSpan {
  boost::intrusive_ptr<const ReplayChunk> chunk;
  std::uint32_t offset = 0;
  std::uint32_t size = 0;
  const char* data() const noexcept { return chunk->at(offset); }
};

}  // namespace edrid::cluster
