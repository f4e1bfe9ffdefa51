#include "app/backup.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "app/compare.h"
#include "app/copy.h"
#include "app/open_store.h"
#include "log/log.h"
#include "store/rocksdb/rocksdb_store.h"
#include "store/sqlite/sqlite_backup.h"

namespace errata::app {
namespace {

namespace fs = std::filesystem;

int Fail(const std::string& why) {
  std::fprintf(stderr, "errata backup: %s\n", why.c_str());
  return 1;
}

// fsync of the directory that holds `path`, so a rename into it is durable.
bool SyncParent(const std::string& path) {
  std::error_code ec;
  const fs::path dir = fs::absolute(path, ec).parent_path();
  const int fd = ::open(dir.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

int BackupSqliteStore(const std::string& from, const BackupOptions& o) {
  // --verify: a page copy of a store that goes on taking writes cannot be
  // compared record by record with it, as RocksDB's is with its secondary
  // (the store has moved on); the full integrity_check instead reads every
  // index of the copy against its table, where quick_check reads the pages.
  SqliteBackupInfo info;
  if (Status s = BackupSqlite(from, o.to, &info, o.verify); !s.ok()) return Fail(s.message());
  std::printf("backed up sqlite:%s to sqlite:%s: %.1f MiB (%lld pages) in %.1f s, %s in %.1f s\n",
              from.c_str(), o.to.c_str(), static_cast<double>(info.bytes) / (1 << 20),
              static_cast<long long>(info.pages), info.seconds,
              o.verify ? "verified (integrity_check)" : "checked", info.check_seconds);
  return 0;
}

// A temporary directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "errata-backup-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Copies `src` into a new RocksDB store at `partial` (closed on return),
// and with --verify compares the two. Prints only failures: the backup is
// not made until `partial` is renamed. `verdict` gets what the comparison
// says, to print once it is.
int CopyInto(Store* src, const std::string& partial, Micros half_life, const BackupOptions& o,
             CopyCounts* counts, double* seconds, std::string* verdict) {
  std::error_code ec;
  if (!fs::create_directories(partial, ec)) {
    return Fail("cannot create " + partial + ": " + ec.message());
  }
  auto dst = RocksdbStore::Open({partial, half_life});
  if (!dst.ok()) return Fail("--to: " + dst.status().message());
  CopyOptions copy;
  copy.progress = o.progress;
  if (int code = CopyStores("backup", src, dst->get(), copy, counts, seconds); code != 0) {
    return code;
  }
  if (!o.verify) return 0;
  char* text = nullptr;
  size_t size = 0;
  FILE* out = ::open_memstream(&text, &size);
  if (out == nullptr) return Fail("--verify: cannot hold its output in memory");
  // Named by where the backup will be, not by PATH.partial.
  const int code = CompareAndPrint(src, dst->get(), o.progress, out, "rocksdb:" + o.to);
  std::fclose(out);
  verdict->assign(text, size);
  std::free(text);
  if (code == 0) return 0;
  std::fputs(verdict->c_str(), stderr);  // which records differ
  return Fail("--verify: the backup does not hold what it was read from");
}

int BackupRocksdbStore(const std::string& from, const BackupOptions& o) {
  std::error_code ec;
  if (!fs::exists(fs::path(from) / "CURRENT", ec)) return Fail("no RocksDB store at " + from);
  const std::string partial = o.to + ".partial";
  fs::remove_all(partial, ec);  // a failed backup's
  TempDir secondary;
  if (secondary.path().empty()) return Fail("cannot make a temporary directory");
  const Micros half_life = static_cast<Micros>(o.half_life_days * kMicrosPerDay);
  RocksdbStore::Options source{from, half_life};
  // Only the block cache of a reader that scans once.
  source.block_cache_bytes = 32ll << 20;
  source.secondary_path = secondary.path();
  auto src = RocksdbStore::Open(source);
  if (!src.ok()) return Fail("--store: " + src.status().message());
  const std::string from_text = (*src)->Describe();
  CopyCounts counts;
  double seconds = 0;
  std::string verdict;
  int code = CopyInto(src->get(), partial, half_life, o, &counts, &seconds, &verdict);
  src->reset();
  if (code == 0 && (std::rename(partial.c_str(), o.to.c_str()) != 0 || !SyncParent(o.to))) {
    code = Fail("cannot rename " + partial + " to " + o.to);
  }
  if (code != 0) {
    fs::remove_all(partial, ec);
    return code;
  }
  // Only now is it true: copied, compared, and at PATH.
  PrintCopied("backed up", from_text, "rocksdb:" + o.to, counts, seconds);
  std::fputs(verdict.c_str(), stdout);
  return 0;
}

}  // namespace

int RunBackup(const BackupOptions& options) {
  log::Setup("warn");
  BackupOptions o = options;
  while (o.to.size() > 1 && o.to.back() == '/') o.to.pop_back();  // PATH.partial beside it
  if (o.store.starts_with("postgres://") || o.store.starts_with("postgresql://")) {
    std::fputs(
        "errata backup: PostgreSQL is backed up with its own tools (pg_dump, pg_basebackup): "
        "docs/deploy.md\n",
        stderr);
    return 2;
  }
  const std::string from = EmbeddedStorePath(o.store, o.data_dir);
  if (from.empty()) {
    std::fprintf(stderr, "errata backup: unsupported store URL: %s\n", o.store.c_str());
    return 2;
  }
  std::error_code ec;
  if (o.to.empty()) {
    std::fputs("errata backup: --to names the backup to make\n", stderr);
    return 2;
  }
  if (!CheckStoreExists("backup", "--store", o.store, o.data_dir)) return 2;
  // symlink_status: a dangling symlink is there too (exists() follows it, and
  // the final rename would replace the link, or fail after the whole copy).
  if (fs::symlink_status(o.to, ec).type() != fs::file_type::not_found) {
    std::fprintf(stderr, "errata backup: %s already exists: back up into a new path\n",
                 o.to.c_str());
    return 2;
  }
  if (fs::weakly_canonical(o.to, ec) == fs::weakly_canonical(from, ec)) {
    std::fputs("errata backup: --to names the store itself\n", stderr);
    return 2;
  }
  // A backup is background work beside a server: at nice +10 the server's
  // threads keep the cores, and the backup takes longer instead.
  ::setpriority(PRIO_PROCESS, 0, std::max(10, ::getpriority(PRIO_PROCESS, 0)));
  if (o.store.starts_with("rocksdb:")) return BackupRocksdbStore(from, o);
  return BackupSqliteStore(from, o);
}

}  // namespace errata::app
