#include "store/redis/redis_profiles.h"

#include <cstdlib>

#include <hiredis/hiredis.h>

#include <fmt/format.h>

#include <random>
#include <unordered_set>

#include "log/log.h"
#include "store/redis/profile_codec.h"
#include "store/redis/scripts.h"

namespace errata::redis {
namespace {

std::string RandomId() {
  std::random_device rd;
  std::mt19937_64 gen((static_cast<uint64_t>(rd()) << 32) ^ rd() ^ static_cast<uint64_t>(NowMicros()));
  return fmt::format("{:016x}", gen());
}

std::string Ms(std::chrono::seconds s) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(s).count());
}

}  // namespace

RedisProfiles::RedisProfiles(Options options, Metrics* metrics)
    : options_(std::move(options)), metrics_(metrics), node_(RandomId()) {
  metrics_->SetSharedCacheUp(false);
  writer_conn_ = NewConn();
}

RedisProfiles::~RedisProfiles() { Stop(); }

void RedisProfiles::Start() {
  if (!monitor_.joinable()) monitor_ = std::thread([this] { Monitor(); });
}

void RedisProfiles::Stop() {
  {
    std::lock_guard lock(state_mu_);
    stopping_ = true;
  }
  state_cv_.notify_all();
  if (monitor_.joinable()) monitor_.join();
}

bool RedisProfiles::WaitUntilUp(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(state_mu_);
  return state_cv_.wait_for(lock, timeout, [this] { return reads_on_.load() || stopping_; }) &&
         reads_on_.load();
}

std::string RedisProfiles::last_error() const {
  std::lock_guard lock(state_mu_);
  return reads_on_ ? "" : last_error_;
}

std::unique_ptr<RedisConn> RedisProfiles::NewConn() const {
  return std::make_unique<RedisConn>(
      options_.url, RedisConn::Options{options_.connect_timeout, options_.command_timeout});
}

RedisProfiles::Lease::Lease(RedisProfiles* owner) : owner_(owner) {
  std::unique_lock lock(owner_->pool_mu_);
  owner_->pool_cv_.wait(lock, [this] {
    return !owner_->idle_.empty() || owner_->leased_ < std::max<size_t>(1, owner_->options_.readers);
  });
  if (!owner_->idle_.empty()) {
    conn_ = std::move(owner_->idle_.back().first);
    epoch_ = owner_->idle_.back().second;
    owner_->idle_.pop_back();
  }
  ++owner_->leased_;
  lock.unlock();
  const uint64_t now = owner_->recoveries_.load();
  if (conn_ == nullptr) {
    conn_ = owner_->NewConn();
    epoch_ = now;
  } else if (epoch_ != now) {
    conn_->Close();  // opened before an outage: reconnect
    epoch_ = now;
  }
}

RedisProfiles::Lease::~Lease() {
  {
    std::lock_guard lock(owner_->pool_mu_);
    --owner_->leased_;
    owner_->idle_.emplace_back(std::move(conn_), epoch_);
  }
  owner_->pool_cv_.notify_one();
}

void RedisProfiles::MarkDown(const std::string& what, const Status& status, bool skipping_batch) {
  metrics_->SharedCacheError();
  bool was_up;
  const std::string message = what + ": " + status.message();
  {
    std::lock_guard lock(state_mu_);
    was_up = writes_on_ || reads_on_;
    writes_on_ = false;
    reads_on_ = false;
    ++downs_;
    if (skipping_batch) skipped_active_ = true;
    last_error_ = message;
  }
  metrics_->SetSharedCacheUp(false);
  state_cv_.notify_all();
  if (was_up) {
    log::Warn("shared cache down: profiles are read from the store until it is back",
              {{"cache", Describe()}, {"error", message}});
  }
}

// ---- Reads ----------------------------------------------------------------

namespace {
// The steady clock in µs: for the state records' expiry times (Ticket).
Micros SteadyMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

SharedProfiles::Lookup RedisProfiles::Get(const std::string& user_id,
                                          std::shared_ptr<const Profile>* out, Ticket* ticket) {
  if (!ok()) return Lookup::kUnavailable;
  Result<std::vector<Reply>> r = Status::Ok();
  {
    Lease conn(this);
    // The state record's time to live, in the same round trip: the ticket's
    // state_expires (see Current).
    r = conn->Pipeline({{"EVALSHA", sha_read_, "3", ProfileKey(user_id), StateKey(user_id),
                         kGenerationKey, std::to_string(options_.reap_after.count())},
                        {"PTTL", StateKey(user_id)}});
  }
  const Micros now = SteadyMicros();
  if (!r.ok()) {
    MarkDown("read", r.status());
    return Lookup::kUnavailable;
  }
  const redisReply* rep = (*r)[0].get();
  const redisReply* pttl = (*r)[1].get();
  if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 4 ||
      rep->element[3]->type != REDIS_REPLY_ARRAY || pttl->type != REDIS_REPLY_INTEGER) {
    MarkDown("read", Status::Internal("unexpected reply to the read script"));
    return Lookup::kUnavailable;
  }
  std::string generation = Text(rep->element[0]);
  if (generation.empty()) {
    // Only a Redis that lost its data (restarted, flushed) lacks errata:gen;
    // what it holds now may be older than our writes: recover first.
    MarkDown("read", Status::Unavailable("errata:gen is missing (Redis restarted or flushed)"));
    return Lookup::kUnavailable;
  }
  const bool pending = rep->element[2]->integer != 0;
  const redisReply* fields = rep->element[3];
  if (!pending) {
    ticket->generation = std::move(generation);
    ticket->version = Text(rep->element[1]);
    ticket->state_expires = pttl->integer > 0 ? now + pttl->integer * 1000 : 0;
  }
  if (fields->elements > 0) {
    std::vector<std::pair<std::string, std::string>> kv;
    kv.reserve(fields->elements / 2);
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
      kv.emplace_back(Text(fields->element[i]), Text(fields->element[i + 1]));
    }
    *out = std::make_shared<const Profile>(DecodeProfile(kv));
    if (!pending) {
      metrics_->SharedCacheHit();
      return Lookup::kHit;
    }
  }
  metrics_->SharedCacheMiss();
  if (pending) {
    ticket->copy = fields->elements > 0;
    return Lookup::kBypass;
  }
  return Lookup::kMiss;
}

// The copy is current when the learner's state record is the same one, at
// the same version, with no commit in progress, and no recovery began: four
// plain commands, pipelined. The version alone would not do: a state record
// that expired or was evicted and was made again restarts its versions; its
// expiry time differs then (it is set at each commit), so it is compared too,
// within a tolerance for the two round trips' timing.
bool RedisProfiles::Current(const std::string& user_id, const Ticket& ticket) {
  if (!ok() || ticket.version.empty() || ticket.state_expires == 0) return false;
  constexpr Micros kExpiryTolerance = 250'000;
  Result<std::vector<Reply>> r = Status::Ok();
  {
    Lease conn(this);
    const std::string state = StateKey(user_id);
    r = conn->Pipeline(
        {{"HGET", state, "v"}, {"HLEN", state}, {"PTTL", state}, {"GET", kGenerationKey}});
  }
  const Micros now = SteadyMicros();
  if (!r.ok()) {
    MarkDown("read", r.status());
    return false;
  }
  const redisReply* hlen = (*r)[1].get();
  const redisReply* pttl = (*r)[2].get();
  if (hlen->type != REDIS_REPLY_INTEGER || pttl->type != REDIS_REPLY_INTEGER) return false;
  const Micros expires = pttl->integer > 0 ? now + pttl->integer * 1000 : 0;
  return hlen->integer == 1 && Text((*r)[0].get()) == ticket.version &&
         Text((*r)[3].get()) == ticket.generation && expires > 0 &&
         std::abs(expires - ticket.state_expires) < kExpiryTolerance;
}

void RedisProfiles::Fill(const std::string& user_id, const Profile& profile,
                         const Ticket& ticket) {
  if (!ok() || ticket.generation.empty()) return;
  std::vector<std::string> args{"EVALSHA",         sha_fill_,      "3",
                                ProfileKey(user_id), StateKey(user_id), kGenerationKey,
                                ticket.generation, ticket.version, Ms(options_.profile_ttl)};
  std::vector<std::string> fields = EncodeProfile(profile);
  args.insert(args.end(), std::make_move_iterator(fields.begin()),
              std::make_move_iterator(fields.end()));
  Result<Reply> r = Status::Ok();
  {
    Lease conn(this);
    r = conn->Command(args);
  }
  if (!r.ok()) MarkDown("fill", r.status());
}

// ---- The writer's side ----------------------------------------------------

void RedisProfiles::BeginCommit(const std::vector<std::string>& user_ids) {
  commit_mu_.lock();  // released by EndCommit
  batch_ = Batch{};
  std::unordered_set<std::string_view> seen;
  for (const auto& id : user_ids) {
    if (seen.insert(id).second) batch_.users.push_back(id);
  }
  {
    std::lock_guard lock(state_mu_);
    batch_.redis = writes_on_;
    // While down, a batch's effects never reach Redis: Recover waits for it
    // to end before it wipes the profiles it may have missed.
    if (!batch_.redis) skipped_active_ = true;
  }
  if (!batch_.redis || batch_.users.empty()) return;
  if (const uint64_t now = recoveries_.load(); writer_epoch_ != now) {
    writer_conn_->Close();  // opened before an outage: reconnect
    writer_epoch_ = now;
  }
  batch_.token = fmt::format("{}-{}", node_, ++seq_);
  std::vector<std::string> args{"EVALSHA", sha_begin_, std::to_string(batch_.users.size())};
  for (const auto& id : batch_.users) args.push_back(StateKey(id));
  args.push_back(batch_.token);
  args.push_back(std::to_string(options_.state_ttl.count()));
  auto r = writer_conn_->Command(args);
  if (!r.ok()) {
    batch_.redis = false;
    MarkDown("begin commit", r.status(), /*skipping_batch=*/true);
  }
}

std::vector<std::string>& RedisProfiles::EffectsOf(const std::string& user_id) {
  return batch_.effects[user_id];
}

void RedisProfiles::ApplyDeltas(const DeltaSet& deltas) {
  if (!batch_.redis) return;
  for (const auto& d : deltas.deltas()) {
    auto& ops = EffectsOf(d.user_id);
    ops.insert(ops.end(), {"d", d.subcategory_id, d.category, d.subcategory,
                           std::to_string(d.count), std::to_string(d.first_seen),
                           std::to_string(d.last_seen), EncodeDouble(d.decay_log2)});
  }
}

void RedisProfiles::ApplyAttempt(const Attempt& a, const MemoryState& memory) {
  if (!batch_.redis) return;
  auto& ops = EffectsOf(a.user_id);
  ops.insert(ops.end(), {"m", a.subcategory_id, EncodeMemory(memory)});
  if (a.correct) {
    ops.insert(ops.end(), {"r", RecentField(a.answered_at, a.attempt_id), a.exercise_id});
  }
}

void RedisProfiles::AddExamples(const std::string& user_id, const std::vector<Example>& examples) {
  if (!batch_.redis || examples.empty()) return;
  auto& ops = EffectsOf(user_id);
  for (const auto& e : examples) ops.insert(ops.end(), {"e", ExampleField(e), EncodeExample(e)});
}

void RedisProfiles::MarkUserKnown(const std::string& user_id) {
  if (!batch_.redis) return;
  EffectsOf(user_id).push_back("k");
}

void RedisProfiles::ForgetUser(const std::string& user_id) {
  if (!batch_.redis) return;
  EffectsOf(user_id).push_back("x");
}

void RedisProfiles::EndCommit(CommitEnd end) {
  if (end == CommitEnd::kInDoubt) {
    // The batch may have committed: its learners' marks stay, so every node
    // reads them from the store (kRead: pending) until a read reaps the
    // marks, 30 s on, and drops the profiles, which then load whole. kApply
    // would end the marks and leave the profiles without the batch for good
    // once this node is gone (the retry, on any node, is a replay that adds
    // nothing; every later apply refreshes the profile's TTL).
    batch_.users.clear();
    batch_.effects.clear();
  }
  if (end == CommitEnd::kReload) {
    // A batch of theirs may have committed unseen: each learner's profile
    // goes ("x"), and the next read loads it whole from the store. A later
    // commit's apply cannot bring it back: it applies only to one in Redis.
    batch_.effects.clear();
    for (const auto& id : batch_.users) batch_.effects[id] = {"x"};
  }
  if (batch_.redis && !batch_.users.empty()) {
    const std::string ttl = Ms(options_.profile_ttl);
    const std::string max_examples = std::to_string(kMaxExamples);
    const std::string max_recent = std::to_string(kMaxRecentCorrect);
    const std::string state_ttl = std::to_string(options_.state_ttl.count());
    std::vector<std::vector<std::string>> commands;
    auto apply = [&](const std::string& id, std::vector<std::string>* ops) {
      std::vector<std::string> cmd{"EVALSHA",    sha_apply_, "2",          ProfileKey(id),
                                   StateKey(id), batch_.token, ttl,        max_examples,
                                   max_recent,   state_ttl};
      if (ops != nullptr) {
        cmd.insert(cmd.end(), std::make_move_iterator(ops->begin()),
                   std::make_move_iterator(ops->end()));
      }
      commands.push_back(std::move(cmd));
    };
    // Every marked learner, with or without effects: kApply ends its mark.
    for (const auto& id : batch_.users) {
      auto it = batch_.effects.find(id);
      apply(id, it == batch_.effects.end() ? nullptr : &it->second);
      if (it != batch_.effects.end()) batch_.effects.erase(it);
    }
    // Effects for a learner the batch did not mark (not expected): kApply
    // finds no mark and drops the learner's profile, which is always safe.
    for (auto& [id, ops] : batch_.effects) apply(id, &ops);
    auto replies = writer_conn_->Pipeline(commands);
    if (!replies.ok()) {
      MarkDown("apply commit", replies.status());
    } else {
      for (const auto& r : *replies) {
        if (IsError(r.get())) {
          MarkDown("apply commit", Status::Unavailable("redis: " + ErrorText(r.get())));
          break;
        }
      }
    }
  }
  {
    std::lock_guard lock(state_mu_);
    skipped_active_ = false;
  }
  state_cv_.notify_all();
  batch_ = Batch{};
  commit_mu_.unlock();
}

// ---- Coming back after an outage --------------------------------------------

Status RedisProfiles::LoadScripts(RedisConn& conn) {
  const std::pair<const char*, std::string*> scripts[] = {{lua::kRead, &sha_read_},
                                                          {lua::kFill, &sha_fill_},
                                                          {lua::kBegin, &sha_begin_},
                                                          {lua::kApply, &sha_apply_}};
  for (const auto& [source, sha] : scripts) {
    auto r = conn.Command({"SCRIPT", "LOAD", source});
    if (!r.ok()) return r.status();
    // The SHA of a script never changes: set once, before the cache is first
    // used (the writes below happen-before writes_on_/reads_on_ are set).
    if (sha->empty()) *sha = Text(r->get());
  }
  return Status::Ok();
}

Status RedisProfiles::WipeProfiles(RedisConn& conn) {
  std::string cursor = "0";
  do {
    auto r = conn.Command({"SCAN", cursor, "MATCH", kProfilePattern, "COUNT", "1000"});
    if (!r.ok()) return r.status();
    const redisReply* rep = r->get();
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
      return Status::Internal("unexpected reply to SCAN");
    }
    cursor = Text(rep->element[0]);
    const redisReply* keys = rep->element[1];
    if (keys->elements > 0) {
      std::vector<std::string> args{"UNLINK"};
      for (size_t i = 0; i < keys->elements; ++i) args.push_back(Text(keys->element[i]));
      if (auto d = conn.Command(args); !d.ok()) return d.status();
    }
  } while (cursor != "0" && !cursor.empty());
  return Status::Ok();
}

bool RedisProfiles::Recover(RedisConn& conn) {
  if (auto r = conn.Command({"PING"}); !r.ok()) {
    std::lock_guard lock(state_mu_);
    last_error_ = r.status().message();
    return false;
  }
  if (Status s = LoadScripts(conn); !s.ok()) {
    std::lock_guard lock(state_mu_);
    last_error_ = "load scripts: " + s.message();
    return false;
  }
  uint64_t downs;
  {
    // Writes first: every batch from now on marks and applies in Redis.
    std::unique_lock lock(state_mu_);
    downs = downs_;
    recoveries_.fetch_add(1);  // connections opened before are reopened first
    writes_on_ = true;
    // Then wait for the batch that skipped Redis, if one is committing.
    state_cv_.wait_for(lock, std::chrono::seconds(30), [&] {
      return !skipped_active_ || downs_ != downs || stopping_;
    });
    if (downs_ != downs || stopping_) return false;
    if (skipped_active_) {
      writes_on_ = false;
      last_error_ = "recovery: a commit that skipped Redis did not finish";
      return false;
    }
  }
  // Every profile in Redis may lack deltas this node could not apply while
  // it was down (or Redis lost them): bump the generation, so no fill read
  // before now lands, and delete them all. Reads reload them from the store.
  // A Redis that lost its data lacks the generation: it starts from the
  // time in µs, not from 1, which a ticket of its earlier life (a fill read
  // before, a node's copy) could hold and so pass for current.
  Status s = Status::Ok();
  if (auto r = conn.Pipeline({{"SET", kGenerationKey, std::to_string(NowMicros()), "NX"},
                              {"INCR", kGenerationKey}});
      !r.ok()) {
    s = r.status();
  } else {
    for (const auto& reply : *r) {
      if (IsError(reply.get())) s = Status::Unavailable("redis: " + ErrorText(reply.get()));
    }
  }
  if (s.ok()) s = WipeProfiles(conn);
  if (!s.ok()) {
    MarkDown("recover", s);
    return false;
  }
  {
    std::lock_guard lock(state_mu_);
    if (downs_ != downs || stopping_) return false;
    reads_on_.store(true, std::memory_order_release);
    last_error_.clear();
  }
  metrics_->SetSharedCacheUp(true);
  state_cv_.notify_all();
  log::Info("shared cache up", {{"cache", Describe()}});
  return true;
}

void RedisProfiles::Monitor() {
  auto conn = NewConn();
  std::unique_lock lock(state_mu_);
  while (!stopping_) {
    if (reads_on_) {
      state_cv_.wait_for(lock, options_.ping_interval, [this] { return stopping_ || !reads_on_; });
      if (stopping_ || !reads_on_) continue;
      lock.unlock();
      // Still there, and still the Redis we wiped (a restarted or flushed
      // one lacks errata:gen)?
      auto r = conn->Command({"GET", kGenerationKey});
      Status s = r.ok() ? Status::Ok() : r.status();
      if (s.ok() && Text(r->get()).empty()) {
        s = Status::Unavailable("errata:gen is missing (Redis restarted or flushed)");
      }
      if (!s.ok()) MarkDown("ping", s);
      lock.lock();
    } else {
      lock.unlock();
      const bool up = Recover(*conn);
      lock.lock();
      if (!up) {
        state_cv_.wait_for(lock, options_.probe_interval, [this] { return stopping_; });
      }
    }
  }
}

}  // namespace errata::redis
