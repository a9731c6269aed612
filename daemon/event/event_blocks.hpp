// Recycles the memory blocks of small events (a header and a payload object
// of up to 48 B: most events) between threads, in batches.
//
// Why not leave it to the allocator: an event is nearly always freed on
// another thread than the one that made it (its consumer's), and mimalloc
// gives such blocks back to their owner as a linked list the owner walks
// block by block when it next allocates: one dependent cache miss per
// block, 18 % of a publisher's time at one publisher to one consumer. Here
// a freeing thread collects blocks into a batch that lists them in an
// array, and a thread out of blocks takes a whole batch at once. What waits
// for reuse is bounded: 78 blocks (17 KiB) per thread and 64 batches
// (378 KiB) between threads; the rest goes back to the allocator.
#pragma once

#include <cstddef>

namespace edrid::event_blocks {

// Every recycled block has this size (mimalloc's 224 B class).
inline constexpr std::size_t kBlockSize = 224;

// Whether blocks are recycled at all: not under AddressSanitizer, which
// should see each event's memory freed. A constant, so the allocation path
// pays no call to ask.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kEnabled = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kEnabled = false;
#else
inline constexpr bool kEnabled = true;
#endif
#else
inline constexpr bool kEnabled = true;
#endif
// A block of kBlockSize bytes, aligned for any ordinary type.
void* take();
// Gives back a block from take(), for this or another thread to reuse.
void give(void* block) noexcept;

}  // namespace edrid::event_blocks
