// CopyStore: every record of one store into another, empty one (errata copy;
// docs/copy.md). The way from SQLite on a laptop to RocksDB, or to the
// PostgreSQL that many nodes share, and back.
//
// The source exports its records as the write ops that make them again
// (Store::Export, from one snapshot); the target applies them in batches
// through ApplyBatch, as the Writer would, with their ids, times and request
// hashes. The target works out the counts, recency sums and search indexes
// itself; the memory states are copied as they are. Every op must apply:
// anything else (a taken id, a refused value) stops the copy with an error.
#pragma once

#include <cstdint>
#include <functional>

#include "store/store.h"

namespace errata {

struct CopyCounts {
  int64_t users = 0;
  int64_t conversations = 0;
  int64_t utterances = 0;
  int64_t errors = 0;
  int64_t attempts = 0;
  int64_t erased = 0;  // erased learners' tombstones
};

struct CopyOptions {
  size_t batch = 5000;  // ops per target transaction
  // Called after each batch is committed in the target, with the totals so
  // far. The copy is durable when CopyStore returns ok.
  std::function<void(const CopyCounts&)> progress;
};

// InvalidArgument, with nothing written, when `to` holds any record. On any
// other failure the target keeps the batches applied before it and stays
// marked (Store::BeginBulkLoad): it refuses to open until it is deleted or
// emptied and copied again.
Status CopyStore(Store* from, Store* to, const CopyOptions& options, CopyCounts* counts);

// Whether the store holds no record at all.
Result<bool> StoreIsEmpty(Store* store);

// An exported op's record, for messages: its kind ("user", "conversation",
// "utterance", "attempt") and its id; and its place in the counts.
const char* RecordKind(const WriteOp& op);
const std::string& RecordId(const WriteOp& op);
void CountRecord(const WriteOp& op, CopyCounts* counts);

}  // namespace errata
