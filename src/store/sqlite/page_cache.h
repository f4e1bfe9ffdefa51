// A thin layer over SQLite's own page cache (pcache1) that keeps one B-tree
// trick from making every commit scan the whole cache.
//
// When SQLite rebalances a B-tree it swaps two pages' numbers, parking one
// page for a moment at a temporary number: the page after the 1 GiB "pending
// byte" (262,145 with 4 KiB pages). pcache1 remembers the largest number it
// has ever held, and at each commit it drops every page numbered beyond the
// database's end. While that largest number is far past the end (any database
// under 1 GiB), the drop walks the whole hash table: with the writer's 128 MiB
// cache, 32k buckets and as many page headers, every commit. That walk was
// 17-29% of the writer thread under W2 (docs/write-path.md, "SQLite's page
// cache").
//
// This layer passes every call through to pcache1 and changes one thing: the
// temporary number becomes one past the largest page number in the cache,
// which no page has. The swap is the same; pcache1's largest number stays at
// the database's end, and the commit's drop looks at a few buckets. SQLite
// never sees the other number.
#pragma once

#include <cstdint>

namespace errata::sqlite {

// Installs the layer for the whole process. Must run before SQLite is
// initialized (the first sqlite3_open does that): Db::Open calls it, and so
// must any code that opens SQLite directly. Idempotent; returns false if
// SQLite was already initialized, in which case its own cache stays in use.
bool InstallPageCache();

// How many temporary page numbers the layer has replaced (read by its test).
uint64_t PageCacheTemporaryRenames();

}  // namespace errata::sqlite
