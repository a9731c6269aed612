#include "event/event_blocks.hpp"

#include <cstdint>
#include <mutex>
#include <new>

namespace edrid::event_blocks {
namespace {

// A batch of freed blocks, written into the first of them.
struct Batch {
  Batch* next;
  std::size_t count;
  void* blocks[(kBlockSize - 2 * sizeof(void*)) / sizeof(void*)];
};
static_assert(sizeof(Batch) <= kBlockSize);
constexpr std::size_t kPerBatch = sizeof(Batch::blocks) / sizeof(void*);

// Full batches between threads. Bounded: a burst that freed more than this
// goes back to the allocator rather than stay reserved for good.
constexpr std::size_t kMaxShared = 64;
struct Shared {
  std::mutex mutex;
  Batch* head = nullptr;
  std::size_t batches = 0;
};
// Never destroyed: threads may still give blocks back while the process
// exits.
Shared& shared() {
  static Shared* s = new Shared;
  return *s;
}

void free_batch(Batch* b) noexcept {
  for (std::size_t i = 0; i < b->count; ++i) ::operator delete(b->blocks[i]);
  ::operator delete(static_cast<void*>(b));
}

// Per thread: blocks to hand out next, and the batch being filled with the
// blocks this thread frees. Trivially destructible, so the hot path pays no
// thread_local guard; Releaser frees what is left when the thread ends.
constexpr std::size_t kLocal = 2 * kPerBatch;
struct Local {
  void* ready[kLocal];
  std::size_t count;
  Batch* filling;
  bool releasing;  // the Releaser is registered
  bool gone;       // the thread is ending: free blocks directly
};
thread_local constinit Local t_local{};

struct Releaser {
  ~Releaser() {
    Local& l = t_local;
    l.gone = true;
    for (std::size_t i = 0; i < l.count; ++i) ::operator delete(l.ready[i]);
    l.count = 0;
    if (l.filling) free_batch(l.filling);
    l.filling = nullptr;
  }
};

void register_release(Local& l) {
  if (l.releasing) return;
  l.releasing = true;
  thread_local Releaser releaser;
  (void)releaser;
}

void share(Batch* b) noexcept {
  b->next = nullptr;
  {
    Shared& s = shared();
    std::lock_guard lock(s.mutex);
    if (s.batches < kMaxShared) {
      b->next = s.head;
      s.head = b;
      ++s.batches;
      return;
    }
  }
  free_batch(b);
}

Batch* take_shared() noexcept {
  Shared& s = shared();
  std::lock_guard lock(s.mutex);
  Batch* b = s.head;
  if (b) {
    s.head = b->next;
    --s.batches;
  }
  return b;
}

}  // namespace

void* take() {
  Local& l = t_local;
  if (l.count > 0) return l.ready[--l.count];
  if (!l.gone) {
    if (Batch* b = take_shared()) {
      register_release(l);
      // The batch's own block is the one handed out now.
      for (std::size_t i = 0; i < b->count; ++i) l.ready[i] = b->blocks[i];
      l.count = b->count;
      return b;
    }
  }
  return ::operator new(kBlockSize);
}

void give(void* block) noexcept {
  Local& l = t_local;
  if (l.gone) {
    ::operator delete(block);
    return;
  }
  // A thread that makes events too keeps a few of its own.
  if (l.count > 0 && l.count < kLocal) {
    l.ready[l.count++] = block;
    return;
  }
  if (!l.filling) {
    register_release(l);
    l.filling = static_cast<Batch*>(block);
    l.filling->count = 0;
    return;
  }
  Batch* b = l.filling;
  b->blocks[b->count++] = block;
  if (b->count == kPerBatch) {
    l.filling = nullptr;
    share(b);
  }
}

}  // namespace edrid::event_blocks
