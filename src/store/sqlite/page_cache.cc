#include "store/sqlite/page_cache.h"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>

namespace errata::sqlite {
namespace {

// SQLite's pending byte (sqlite3PendingByte; only its own tests move it).
constexpr int64_t kPendingByte = 0x40000000;

sqlite3_pcache_methods2 g_base;  // pcache1, as SQLite set it up
std::atomic<uint64_t> g_renames{0};

// One connection's cache. SQLite uses a cache from one thread at a time.
struct Cache {
  sqlite3_pcache* base;
  unsigned temporary;  // the number balance_nonroot parks a page at
  unsigned max_key;    // no page in the cache is numbered above this
  unsigned alias;      // the parked page's number; 0 if none is parked
};

Cache* Of(sqlite3_pcache* p) { return reinterpret_cast<Cache*>(p); }

// The number pcache1 sees for `key`. The temporary number stands for the
// parked page's number while one is parked, and otherwise for a number above
// every page in the cache (so a lookup finds nothing). `parking` is true when
// the caller puts a page at `key`: it gets a fresh number of its own.
unsigned Map(Cache* c, unsigned key, bool parking) {
  if (key != c->temporary) return key;
  if (parking) {
    c->alias = ++c->max_key;
    g_renames.fetch_add(1, std::memory_order_relaxed);
  }
  return c->alias != 0 ? c->alias : c->max_key + 1;
}

int Init(void*) { return g_base.xInit(g_base.pArg); }
void Shutdown(void*) {
  if (g_base.xShutdown != nullptr) g_base.xShutdown(g_base.pArg);
}

sqlite3_pcache* Create(int page_size, int extra, int purgeable) {
  auto* c = static_cast<Cache*>(sqlite3_malloc(sizeof(Cache)));
  if (c == nullptr) return nullptr;
  c->base = g_base.xCreate(page_size, extra, purgeable);
  if (c->base == nullptr) {
    sqlite3_free(c);
    return nullptr;
  }
  c->temporary = static_cast<unsigned>(kPendingByte / page_size + 1);
  c->max_key = 0;
  c->alias = 0;
  return reinterpret_cast<sqlite3_pcache*>(c);
}

void Cachesize(sqlite3_pcache* p, int n) { g_base.xCachesize(Of(p)->base, n); }
int Pagecount(sqlite3_pcache* p) { return g_base.xPagecount(Of(p)->base); }

sqlite3_pcache_page* Fetch(sqlite3_pcache* p, unsigned key, int create) {
  Cache* c = Of(p);
  const unsigned k = Map(c, key, create != 0 && c->alias == 0);
  if (create != 0) c->max_key = std::max(c->max_key, k);
  return g_base.xFetch(c->base, k, create);
}

void Unpin(sqlite3_pcache* p, sqlite3_pcache_page* page, int discard) {
  g_base.xUnpin(Of(p)->base, page, discard);
}

void Rekey(sqlite3_pcache* p, sqlite3_pcache_page* page, unsigned old_key, unsigned new_key) {
  Cache* c = Of(p);
  const unsigned from = Map(c, old_key, false);
  if (old_key == c->temporary) c->alias = 0;  // the parked page leaves
  const unsigned to = Map(c, new_key, true);
  c->max_key = std::max(c->max_key, to);
  g_base.xRekey(c->base, page, from, to);
}

void Truncate(sqlite3_pcache* p, unsigned limit) {
  Cache* c = Of(p);
  g_base.xTruncate(c->base, limit);
  // Every page numbered `limit` or above is gone.
  if (limit > 0) c->max_key = std::min(c->max_key, limit - 1);
  if (c->alias >= limit) c->alias = 0;
}

void Destroy(sqlite3_pcache* p) {
  g_base.xDestroy(Of(p)->base);
  sqlite3_free(p);
}

void Shrink(sqlite3_pcache* p) { g_base.xShrink(Of(p)->base); }

bool Install() {
  if (sqlite3_config(SQLITE_CONFIG_GETPCACHE2, &g_base) != SQLITE_OK) return false;
  sqlite3_pcache_methods2 mine{};
  mine.iVersion = 1;
  mine.pArg = nullptr;
  mine.xInit = &Init;
  mine.xShutdown = &Shutdown;
  mine.xCreate = &Create;
  mine.xCachesize = &Cachesize;
  mine.xPagecount = &Pagecount;
  mine.xFetch = &Fetch;
  mine.xUnpin = &Unpin;
  mine.xRekey = &Rekey;
  mine.xTruncate = &Truncate;
  mine.xDestroy = &Destroy;
  mine.xShrink = &Shrink;
  return sqlite3_config(SQLITE_CONFIG_PCACHE2, &mine) == SQLITE_OK;
}

}  // namespace

bool InstallPageCache() {
  static const bool installed = Install();
  return installed;
}

uint64_t PageCacheTemporaryRenames() { return g_renames.load(std::memory_order_relaxed); }

}  // namespace errata::sqlite
