// How RocksdbStore lays out keys and values (docs/rocksdb.md).
//
// A key is a one-byte table tag and the record's key. Every id in a key
// (<user_id>, [conversation_id], ...) is the UUID's 16 bytes (KeyId below,
// key format 2). Where a record is found by a prefix (a learner's errors, a
// conversation's utterances), the leading id is length-prefixed (a varint,
// shown as [id]), so one id is never a prefix of another's keys, and times
// are 8 bytes big-endian with the sign bit flipped, so they sort in time
// order:
//
//   u <user_id>                                  user
//   e <email, lower-case>                        -> user_id
//   n <username, lower-case> \0 <user_id>        (username search)
//   c <conversation_id>                          conversation
//   t <utterance_id>                             utterance (+ request hash, and
//                                                the (error_id, time) of its errors)
//   v [conversation_id] <time> <utterance_id>    a conversation's utterances
//   L [user_id] a <time> <attempt_id>            practice attempt
//   L [user_id] c <time> <conversation_id>       a learner's conversation (by start)
//   L [user_id] f <subcategory_id>               error point (counts, decay)
//   L [user_id] g <subcategory_id>               memory state (mastery)
//   L [user_id] l <time> <error_id>              error (+ utterance_id)
//   # <name>                                     meta (decay half-life)
//
// Everything a profile load reads about one learner sits under `L [user_id]`,
// next to each other in every sorted file: its four scans read the same few
// blocks instead of one block per table. Points and memory states are
// adjacent (f, g), so one scan reads both.
//
// A value is its fields in a fixed order: integers and doubles as 8 bytes
// little-endian, strings as a varint length and the bytes, optionals as a
// presence byte and the value. A new field goes at the end.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "core/ids.h"

namespace errata::rocksdb_codec {

inline void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// Reads a varint from the front of *in; false when it is cut short.
inline bool GetVarint(std::string_view* in, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift <= 63 && !in->empty(); shift += 7) {
    const auto b = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    *v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

class Encoder {
 public:
  // `reserve`: the value's expected size, to build it in one allocation.
  explicit Encoder(size_t reserve = 0) { s_.reserve(reserve); }
  Encoder& Int(int64_t v) {
    char b[8];
    const auto u = static_cast<uint64_t>(v);
    for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(u >> (8 * i));
    s_.append(b, 8);
    return *this;
  }
  Encoder& Real(double v) {
    int64_t bits;
    std::memcpy(&bits, &v, 8);
    return Int(bits);
  }
  Encoder& Bool(bool v) {
    s_.push_back(v ? 1 : 0);
    return *this;
  }
  Encoder& Str(std::string_view v) {
    PutVarint(&s_, v.size());
    s_.append(v);
    return *this;
  }
  Encoder& OptStr(const std::optional<std::string>& v) {
    Bool(v.has_value());
    if (v) Str(*v);
    return *this;
  }
  std::string Take() { return std::move(s_); }

 private:
  std::string s_;
};

// Reads what an Encoder wrote. A short or malformed value makes ok() false
// (and the reads return zero values); check it once at the end.
class Decoder {
 public:
  explicit Decoder(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }

  int64_t Int() {
    if (in_.size() < 8) return Bad(), 0;
    uint64_t u = 0;
    for (int i = 0; i < 8; ++i) u |= static_cast<uint64_t>(static_cast<uint8_t>(in_[i])) << (8 * i);
    in_.remove_prefix(8);
    return static_cast<int64_t>(u);
  }
  double Real() {
    const int64_t bits = Int();
    double v;
    std::memcpy(&v, &bits, 8);
    return v;
  }
  bool Bool() {
    if (in_.empty()) return Bad(), false;
    const bool v = in_.front() != 0;
    in_.remove_prefix(1);
    return v;
  }
  std::string Str() {
    uint64_t n = 0;
    if (!GetVarint(&in_, &n) || n > in_.size()) return Bad(), std::string();
    std::string v(in_.substr(0, n));
    in_.remove_prefix(n);
    return v;
  }
  std::optional<std::string> OptStr() {
    if (!Bool()) return std::nullopt;
    return Str();
  }

 private:
  void Bad() { ok_ = false; }
  std::string_view in_;
  bool ok_ = true;
};

namespace keys {

inline constexpr char kUser = 'u';
inline constexpr char kEmail = 'e';
inline constexpr char kUserName = 'n';
inline constexpr char kUserCreated = 'U';
inline constexpr char kUserTrigram = 'G';
inline constexpr char kConversation = 'c';
inline constexpr char kUtterance = 't';
inline constexpr char kConversationUtterance = 'v';
inline constexpr char kLearner = 'L';
inline constexpr char kErasedUser = 'x';  // an erased learner's tombstone: when, counts
// What follows `L [user_id]`:
inline constexpr char kAttempt = 'a';
inline constexpr char kLearnerConversation = 'c';
inline constexpr char kPoint = 'f';
inline constexpr char kMemory = 'g';
inline constexpr char kLearnerError = 'l';
inline constexpr char kMeta = '#';

// Appends a time as 8 bytes that sort like the signed value.
inline void AppendTime(std::string* out, int64_t t) {
  const uint64_t u = static_cast<uint64_t>(t) ^ (uint64_t{1} << 63);
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(u >> (8 * (7 - i)));
  out->append(b, 8);
}
inline std::string Time(int64_t t) {
  std::string b;
  AppendTime(&b, t);
  return b;
}

inline bool ParseTime(std::string_view* in, int64_t* t) {
  if (in->size() < 8) return false;
  uint64_t u = 0;
  for (int i = 0; i < 8; ++i) u = (u << 8) | static_cast<uint8_t>((*in)[i]);
  *t = static_cast<int64_t>(u ^ (uint64_t{1} << 63));
  in->remove_prefix(8);
  return true;
}

// Ids in keys. Every id errata stores is a UUID (the API checks the ones it
// is given and makes the others), and a key holds its 16 bytes rather than
// its 36 characters: the bytes sort like the text (docs/rocksdb.md, "Ids as
// 16 bytes"). An id that is not a UUID, which only a read can ask for, goes
// in as its text, with a 0xff byte after it when it is 16 bytes long, so it
// never matches a stored id.
inline constexpr size_t kMaxKeyId = kUuidBytes + 1;  // a KeyId's room in `buf`
inline std::string_view KeyId(std::string_view id, char (&buf)[kMaxKeyId]) {
  if (UuidToBytes(id, buf)) return {buf, kUuidBytes};
  if (id.size() != kUuidBytes) return id;
  std::memcpy(buf, id.data(), kUuidBytes);
  buf[kUuidBytes] = '\xff';
  return {buf, kMaxKeyId};
}
inline void AppendId(std::string* k, std::string_view id) {
  char buf[kMaxKeyId];
  k->append(KeyId(id, buf));
}
// The text of an id read from a key.
inline std::string IdText(std::string_view key_id) {
  std::string out;
  if (key_id.size() == kUuidBytes) {
    out.reserve(36);
    AppendUuidText(key_id.data(), &out);
  } else {
    out.assign(key_id);
  }
  return out;
}

// Keys are built in one allocation: `more` is the room reserved for what the
// caller appends after the part built here.
inline std::string Tagged(char tag, std::string_view text, size_t more = 0) {
  std::string k;
  k.reserve(1 + text.size() + more);
  k.push_back(tag);
  k.append(text);
  return k;
}
inline std::string TaggedId(char tag, std::string_view id) {
  std::string k;
  k.reserve(1 + kMaxKeyId);
  k.push_back(tag);
  AppendId(&k, id);
  return k;
}

// tag, then the id length-prefixed: the prefix of every key under that id.
inline std::string IdPrefix(char tag, std::string_view id, size_t more = 0) {
  char buf[kMaxKeyId];
  const std::string_view key_id = KeyId(id, buf);
  std::string k;
  k.reserve(1 + 10 + key_id.size() + more);
  k.push_back(tag);
  PutVarint(&k, key_id.size());
  k.append(key_id);
  return k;
}

// The prefix of one kind of a learner's records (kAttempt, kPoint, ...).
inline std::string LearnerPrefix(char kind, std::string_view user_id, size_t more = 0) {
  std::string k = IdPrefix(kLearner, user_id, 1 + more);
  k.push_back(kind);
  return k;
}

inline std::string User(std::string_view user_id) { return TaggedId(kUser, user_id); }
inline std::string ErasedUser(std::string_view user_id) { return TaggedId(kErasedUser, user_id); }
inline std::string Email(std::string_view email_norm) { return Tagged(kEmail, email_norm); }
inline std::string UserNamePrefix(std::string_view lower_prefix) {
  return Tagged(kUserName, lower_prefix);
}
inline std::string UserName(std::string_view lower_name, std::string_view user_id) {
  std::string k = Tagged(kUserName, lower_name, 1 + kMaxKeyId);
  k.push_back('\0');
  AppendId(&k, user_id);
  return k;
}
inline std::string Conversation(std::string_view id) { return TaggedId(kConversation, id); }
inline std::string Utterance(std::string_view id) { return TaggedId(kUtterance, id); }
inline std::string Meta(std::string_view name) { return Tagged(kMeta, name); }

// `prefix`, a time and an id: a key of records listed in time order.
inline std::string Timed(std::string prefix, int64_t t, std::string_view id) {
  AppendTime(&prefix, t);
  AppendId(&prefix, id);
  return prefix;
}

// The users by creation time, each with a copy of its User record (put
// again when the name or email changes): the learner search's newest
// users. Since key format 3.
inline std::string UserCreated(int64_t created_at, std::string_view user_id) {
  return Timed(std::string(1, kUserCreated), created_at, user_id);
}

// A trigram of a learner's name (core/user_search.h NameTrigrams: three
// code points, 3 to 12 bytes of UTF-8) and the learner, with an empty
// value: typos anywhere in a name. Since key format 4. A trigram's prefix
// scan never meets another trigram's keys: no sequence of three UTF-8 code
// points begins another.
inline std::string UserTrigramPrefix(std::string_view trigram) {
  return Tagged(kUserTrigram, trigram, kMaxKeyId);
}
inline std::string UserTrigram(std::string_view trigram, std::string_view user_id) {
  std::string k = UserTrigramPrefix(trigram);
  AppendId(&k, user_id);
  return k;
}

inline std::string ConversationUtterancePrefix(std::string_view conversation_id, size_t more = 0) {
  return IdPrefix(kConversationUtterance, conversation_id, more);
}
inline std::string ConversationUtterance(std::string_view conversation_id, int64_t t,
                                         std::string_view utterance_id) {
  return Timed(ConversationUtterancePrefix(conversation_id, 8 + kMaxKeyId), t, utterance_id);
}
inline std::string LearnerError(std::string_view user_id, int64_t t, std::string_view error_id) {
  return Timed(LearnerPrefix(kLearnerError, user_id, 8 + kMaxKeyId), t, error_id);
}
// A learner's record of one subcategory (kPoint, kMemory).
inline std::string LearnerSubcategory(char kind, std::string_view user_id,
                                      std::string_view subcategory_id) {
  std::string k = LearnerPrefix(kind, user_id, subcategory_id.size());
  k.append(subcategory_id);
  return k;
}
inline std::string Point(std::string_view user_id, std::string_view subcategory_id) {
  return LearnerSubcategory(kPoint, user_id, subcategory_id);
}
inline std::string Memory(std::string_view user_id, std::string_view subcategory_id) {
  return LearnerSubcategory(kMemory, user_id, subcategory_id);
}
inline std::string Attempt(std::string_view user_id, int64_t t, std::string_view attempt_id) {
  return Timed(LearnerPrefix(kAttempt, user_id, 8 + kMaxKeyId), t, attempt_id);
}

// A learner's conversation by its start time, with an empty value (the
// conversation's record is its `c` key): a learner's conversations newest
// first. Since key format 6.
inline std::string LearnerConversation(std::string_view user_id, int64_t started_at,
                                       std::string_view conversation_id) {
  return Timed(LearnerPrefix(kLearnerConversation, user_id, 8 + kMaxKeyId), started_at,
               conversation_id);
}

// Splits `<time> <id>` (a key after its prefix); the id as the key holds it
// (IdText gives its text).
inline bool ParseTimeAndId(std::string_view rest, int64_t* t, std::string_view* id) {
  if (!ParseTime(&rest, t)) return false;
  *id = rest;
  return true;
}

// Splits a learner key after its tag, `[user_id] <kind> <rest>` (the id as
// the key holds it).
inline bool ParseLearnerKey(std::string_view key, std::string_view* user_id, char* kind,
                            std::string_view* rest) {
  uint64_t n = 0;
  if (!GetVarint(&key, &n) || n >= key.size()) return false;
  *user_id = key.substr(0, n);
  *kind = key[n];
  *rest = key.substr(n + 1);
  return true;
}

// The length of the `<tag> [id]` prefix of a learner key (L) or a
// conversation's utterance key (v), or 0 for other keys. RocksDB keeps a bloom
// filter of these prefixes (IdPrefixExtractor in rocksdb_store.cc), so a
// profile load's scans skip the sorted files that hold nothing of the learner.
inline size_t IdPrefixLength(std::string_view key) {
  if (key.empty() || (key[0] != kLearner && key[0] != kConversationUtterance)) return 0;
  std::string_view rest = key.substr(1);
  uint64_t n = 0;
  if (!GetVarint(&rest, &n) || n > rest.size()) return 0;
  return key.size() - rest.size() + n;
}

// The smallest key greater than every key that starts with `prefix`, or ""
// when there is none (the prefix is all 0xff).
inline std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty()) {
    const auto last = static_cast<uint8_t>(prefix.back());
    if (last != 0xff) {
      prefix.back() = static_cast<char>(last + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return prefix;
}

// ---- The key format
//
// Format 1 (before session 13) held every id in a key as its 36-character
// text; format 2 holds a UUID's 16 bytes; format 3 adds the index of users
// by creation time (UserCreated); format 4 the trigrams of their names
// (UserTrigram); format 5 the trigrams of names beyond ASCII by the folded
// rule (core/search_fold.h: "José" -> "jos", "ose"; format 4 held "jos"
// alone) and those of emails' local parts (core/user_search.h
// UserTrigrams); format 6 a learner's conversations by start time
// (LearnerConversation); format 7 may hold erased learners' tombstones
// (ErasedUser), which a build of format 6 would not see, so it must not
// open one (nothing is rewritten: the meta record changes). The meta record kKeyFormat says which one a
// database holds; a database without it is of format 1, or new.
inline constexpr char kKeyFormat[] = "key_format";
inline constexpr int kCurrentKeyFormat = 7;

namespace upgrade_detail {
// Moves a 36-character id from the front of *in to *out as 16 bytes.
inline bool TextId(std::string_view* in, std::string* out) {
  char b[kUuidBytes];
  if (in->size() < 36 || !UuidToBytes(in->substr(0, 36), b)) return false;
  out->append(b, kUuidBytes);
  in->remove_prefix(36);
  return true;
}
// Moves `[36] <text id>` from the front of *in to *out as `[16] <16 bytes>`.
inline bool TextIdPrefix(std::string_view* in, std::string* out) {
  std::string_view rest = *in;
  uint64_t n = 0;
  if (!GetVarint(&rest, &n) || n != 36) return false;
  PutVarint(out, kUuidBytes);
  if (!TextId(&rest, out)) return false;
  *in = rest;
  return true;
}
// Moves `<time> <text id>`, the whole rest, to *out.
inline bool TimeAndTextId(std::string_view* in, std::string* out) {
  if (in->size() != 8 + 36) return false;
  out->append(in->substr(0, 8));
  in->remove_prefix(8);
  return TextId(in, out);
}
}  // namespace upgrade_detail

// The format-2 key of a format-1 key, in *out. False when `key` holds no
// id as text: a key of format 2, or one without ids (email, meta).
inline bool UpgradeKey(std::string_view key, std::string* out) {
  using namespace upgrade_detail;
  out->clear();
  if (key.empty()) return false;
  std::string_view rest = key.substr(1);
  out->push_back(key[0]);
  switch (key[0]) {
    case kUser:
    case kConversation:
    case kUtterance:
      return rest.size() == 36 && TextId(&rest, out);
    case kUserName: {
      // name \0 <text id>. A format-2 key's last 36 bytes hold its NUL, so
      // they never read as an id's text.
      if (rest.size() < 37 || rest[rest.size() - 37] != '\0') return false;
      out->append(rest.substr(0, rest.size() - 36));
      rest.remove_prefix(rest.size() - 36);
      return TextId(&rest, out);
    }
    case kConversationUtterance:
      return TextIdPrefix(&rest, out) && TimeAndTextId(&rest, out);
    case kLearner: {
      if (!TextIdPrefix(&rest, out) || rest.empty()) return false;
      const char kind = rest.front();
      out->push_back(kind);
      rest.remove_prefix(1);
      if (kind == kPoint || kind == kMemory) {  // then a subcategory id: text
        out->append(rest);
        return true;
      }
      return (kind == kAttempt || kind == kLearnerError) && TimeAndTextId(&rest, out);
    }
    default:
      return false;
  }
}

}  // namespace keys
}  // namespace errata::rocksdb_codec
