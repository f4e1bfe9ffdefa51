// ThreadSnapshotSlot: where a store finds the read snapshot this thread holds
// (Store::BeginReadSnapshot), so that its reads on this thread use it. One
// slot a thread per kind of handle: SQLite's connection, PostgreSQL's, a
// RocksDB snapshot. The store's snapshot object sets it for its lifetime.
#pragma once

namespace errata {

template <typename Handle>
class ThreadSnapshotSlot {
 public:
  // Sets this thread's slot to `store`'s `handle` until destroyed.
  ThreadSnapshotSlot(const void* store, Handle* handle) {
    store_ = store;
    handle_ = handle;
  }
  ~ThreadSnapshotSlot() {
    store_ = nullptr;
    handle_ = nullptr;
  }
  ThreadSnapshotSlot(const ThreadSnapshotSlot&) = delete;
  ThreadSnapshotSlot& operator=(const ThreadSnapshotSlot&) = delete;

  // Whether this thread holds a read snapshot (of any store of this kind).
  static bool Held() { return store_ != nullptr; }
  // The handle of this thread's read snapshot of `store`, or null.
  static Handle* Of(const void* store) { return store_ == store ? handle_ : nullptr; }
  static bool HeldOf(const void* store) { return store_ == store; }

 private:
  static inline thread_local const void* store_ = nullptr;
  static inline thread_local Handle* handle_ = nullptr;
};

}  // namespace errata
