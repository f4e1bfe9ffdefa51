// For tests of a stored format's upgrade (RocksDB's key format, SQLite's
// schema): a small dataset that touches every record kind, and every read's
// answer rendered as text, to compare before and after an upgrade.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "core/delta_set.h"
#include "core/ids.h"
#include "store/store.h"

namespace errata::testutil {

struct UpgradeLearner {
  std::string user_id;
  std::string conversation_id;
};

// Applies `ops` as one batch (then SyncCommitted, as the Writer does for a
// store with DeferredSync()) and expects each to succeed.
inline void ApplyOk(Store* store, std::vector<WriteOp> ops) {
  std::vector<WriteOp*> ptrs;
  for (auto& op : ops) ptrs.push_back(&op);
  DeltaSet deltas(14 * kMicrosPerDay);
  ASSERT_TRUE(store->ApplyBatch(ptrs, &deltas).ok());
  if (store->DeferredSync()) {
    ASSERT_TRUE(store->SyncCommitted().ok());
  }
  for (const auto& op : ops) ASSERT_TRUE(op.status.ok()) << op.status.ToString();
}

inline ErrorRecord UpgradeError(const std::string& subcategory_id, Micros at) {
  ErrorRecord e;
  e.error_id = NewUuidV7(at);
  e.subcategory_id = subcategory_id;
  e.category = subcategory_id == "spelling" ? "Spelling" : "Grammar";
  e.subcategory = subcategory_id;
  e.span = Span{3, 7};
  e.original = "goes";
  e.correction = "went";
  e.created_at = at;
  return e;
}

// Three learners (from `t0`, an hour apart) with emails, conversations,
// utterances with and without content, errors with corrections, and practice
// attempts.
inline std::vector<UpgradeLearner> FillForUpgrade(Store* store, Micros t0) {
  constexpr Micros kHour = 3600 * kMicrosPerSecond;
  std::vector<UpgradeLearner> learners;
  for (int i = 0; i < 3; ++i) {
    const Micros at = t0 + i * kHour;
    UpgradeLearner l{NewUuidV7(at), NewUuidV7(at)};
    WriteOp user;
    user.kind = WriteOp::Kind::kCreateUser;
    user.user =
        User{l.user_id, fmt::format("learner{}", i), fmt::format("learner{}@example.com", i), at};
    WriteOp conversation;
    conversation.kind = WriteOp::Kind::kCreateConversation;
    conversation.conversation = Conversation{l.conversation_id, l.user_id, at};
    ApplyOk(store, {user, conversation});
    for (int j = 0; j < 4; ++j) {
      const Micros t = at + (j + 1) * kHour;
      WriteOp u;
      u.kind = WriteOp::Kind::kAddUtterance;
      u.utterance = Utterance{
          NewUuidV7(t),
          l.conversation_id,
          l.user_id,
          j == 3 ? std::nullopt : std::optional<std::string>("He goes home."),
          t,
          {UpgradeError(j % 2 ? "spelling" : "verb_tense", t), UpgradeError("verb_tense", t + 1)}};
      WriteOp a;
      a.kind = WriteOp::Kind::kRecordAttempt;
      a.attempt = Attempt{NewUuidV7(t), l.user_id, fmt::format("ex-{}", j), "verb_tense",
                          j % 2 == 0,   "went",    t + 2};
      ApplyOk(store, {u, a});
    }
    learners.push_back(l);
  }
  return learners;
}

// Every read's answer about `learners` (from `t0` on), rendered.
inline std::string RenderEverything(Store* store, const std::vector<UpgradeLearner>& learners,
                                    Micros t0) {
  const Micros until = t0 + 100 * 3600 * kMicrosPerSecond;
  std::string s;
  for (const UpgradeLearner& l : learners) {
    auto u = store->GetUser(l.user_id);
    EXPECT_TRUE(u.ok()) << u.status().ToString();
    if (!u.ok()) continue;
    s += fmt::format("user {} {} {} {}\n", u->user_id, u->username, u->email.value_or("-"),
                     u->created_at);
    auto by_email = store->FindUserByEmail(*u->email);
    s += fmt::format("  by email {}\n", by_email.ok() ? by_email->user_id : "?");
    auto p = store->LoadProfile(l.user_id);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    if (!p.ok()) continue;
    for (const ErrorPoint& pt : p->points) {
      s += fmt::format("  point {} {} {}-{} {:.6f} reviews={} last_review={}\n",
                       pt.subcategory_id(), pt.count, pt.first_seen, pt.last_seen, pt.decay_log2,
                       pt.memory->reviews, pt.memory->last_review);
    }
    for (const Example& e : p->examples) {
      s += fmt::format("  example {} {} {} {}\n", e.error_id, e.subcategory_id, e.content,
                       e.created_at);
    }
    for (const RecentCorrect& r : p->recent_correct) {
      s += fmt::format("  correct {} {}\n", r.exercise_id, r.answered_at);
    }
    auto c = store->GetConversation(l.conversation_id);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    if (!c.ok()) continue;
    s += fmt::format("  conversation {} {}\n", c->conversation.user_id, c->conversation.started_at);
    for (const Utterance& ut : c->utterances) {
      s += fmt::format("  utterance {} {} {}\n", ut.utterance_id, ut.content.value_or("-"),
                       ut.created_at);
      for (const ErrorRecord& e : ut.errors) s += fmt::format("    error {}\n", e.error_id);
    }
    auto listed = store->ListConversations(l.user_id, std::nullopt, 10);
    EXPECT_TRUE(listed.ok()) << listed.status().ToString();
    if (listed.ok()) {
      for (const ConversationSummary& c : *listed) {
        s += fmt::format("  listed {} {} {} {}\n", c.conversation.conversation_id,
                         c.conversation.started_at, c.utterances,
                         c.last_utterance_at.value_or(-1));
      }
    }
    auto days = store->ErrorsPerDay(l.user_id, t0, until);
    EXPECT_TRUE(days.ok());
    if (days.ok()) {
      for (const DayCount& d : *days) {
        s += fmt::format("  day {} {} {}\n", d.day, d.category, d.count);
      }
    }
    auto between = store->ProfileBetween(l.user_id, t0, until);
    EXPECT_TRUE(between.ok());
    if (between.ok()) s += fmt::format("  between {}\n", between->TotalErrors());
  }
  for (const char* prefix : {"learner", "learner1@"}) {
    auto found = store->SearchCandidates(prefix, 10);
    EXPECT_TRUE(found.ok());
    if (!found.ok()) continue;
    std::vector<std::string> ids;
    for (const User& u : *found) ids.push_back(u.user_id);
    std::sort(ids.begin(), ids.end());
    s += fmt::format("search {}: {}\n", prefix, fmt::join(ids, " "));
  }
  return s;
}

// A learner named beyond ASCII and with an email, for the upgrade that
// indexes names by the folded rule (core/search_fold.h) and emails by their
// local part (core/user_search.h UserTrigrams). "José García" had the
// trigrams "arc", "gar" and "jos" by the ASCII rule; the folded name adds
// "cia", "ose" and "rci", the email "pepe.madrid@example.com" the rest:
inline const std::vector<std::string> kGainedTrigrams = {"adr", "cia", "dri", "epe", "mad",
                                                         "ose", "pep", "rci", "rid"};

// Adds José García at `at`; returns the learner's id.
inline std::string AddAccentedLearner(Store* store, Micros at) {
  WriteOp user;
  user.kind = WriteOp::Kind::kCreateUser;
  user.user = User{NewUuidV7(at), "José García", "pepe.madrid@example.com", at};
  ApplyOk(store, {user});
  return user.user.user_id;
}

// Whether a search for `query` offers the learner `user_id`.
inline bool Offers(Store* store, const std::string& query, const std::string& user_id) {
  auto got = store->SearchCandidates(query, 0);
  EXPECT_TRUE(got.ok()) << got.status().ToString();
  if (!got.ok()) return false;
  return std::any_of(got->begin(), got->end(),
                     [&](const User& u) { return u.user_id == user_id; });
}

// Whether searches by gained trigrams alone find José García: "rcia" (rci,
// cia: the folded name's) and "madrd" (mad, adr: the email's).
inline bool FoundByGainedTrigrams(Store* store, const std::string& user_id) {
  return Offers(store, "rcia", user_id) && Offers(store, "madrd", user_id);
}

}  // namespace errata::testutil
