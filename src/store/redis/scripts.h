// The Lua scripts errata runs in Redis (EVALSHA). Each runs atomically, so a
// read, a fill, the start of a commit and the application of its effects never
// interleave inside Redis. Key layout (docs/redis.md):
//
//   errata:p:{user}  hash: the learner's profile (see profile_codec.h)
//   errata:s:{user}  hash: "v" a version bumped at the start and end of every
//                    commit touching the learner, and "t:{token}" = start time
//                    (s) of each commit in progress
//   errata:gen       bumped by a node that comes back after an outage, before
//                    it deletes every errata:p:* key
#pragma once

namespace errata::redis::lua {

// KEYS: profile, state, gen.  ARGV: reap_after_s.
// Returns {gen, version, pending, fields}: pending 1 when a commit touching the
// learner is in progress (then read the store; fields, which may lack that
// commit, are only a fallback for when the store fails). A commit
// token older than reap_after_s (its node died, or lost Redis, between commit
// and apply) is dropped together with the profile it may have missed.
inline constexpr const char* kRead = R"lua(
redis.replicate_commands()  -- TIME, then writes (a no-op from Redis 7)
local gen = redis.call('GET', KEYS[3]) or ''
local st = redis.call('HGETALL', KEYS[2])
local now = tonumber(redis.call('TIME')[1])
local reap = tonumber(ARGV[1])
local pending, reaped = 0, false
for i = 1, #st, 2 do
  if string.sub(st[i], 1, 2) == 't:' then
    if now - tonumber(st[i + 1]) > reap then
      redis.call('HDEL', KEYS[2], st[i])
      reaped = true
    else
      pending = pending + 1
    end
  end
end
if reaped then
  redis.call('DEL', KEYS[1])
  redis.call('HINCRBY', KEYS[2], 'v', 1)
end
local v = redis.call('HGET', KEYS[2], 'v') or ''
return {gen, v, pending, redis.call('HGETALL', KEYS[1])}
)lua";

// KEYS: profile, state, gen.  ARGV: gen, version (as kRead returned them),
// ttl_ms, then field, value, ...  Writes the profile loaded from the store
// only if no commit touching the learner started or ended since kRead, none
// is in progress, nobody filled it meanwhile, and no outage recovery began.
// Returns 1 when written.
inline constexpr const char* kFill = R"lua(
if (redis.call('GET', KEYS[3]) or '') ~= ARGV[1] then return 0 end
local v = redis.call('HGET', KEYS[2], 'v') or ''
if v ~= ARGV[2] then return 0 end
local expect = 0
if v ~= '' then expect = 1 end
if redis.call('HLEN', KEYS[2]) ~= expect then return 0 end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 4, #ARGV, 200 do
  redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 199, #ARGV)))
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
)lua";

// KEYS: the state keys of every learner a batch touches.  ARGV: token,
// state_ttl_s. Runs before the store commit.
inline constexpr const char* kBegin = R"lua(
redis.replicate_commands()
local now = redis.call('TIME')[1]
local f = 't:' .. ARGV[1]
for i = 1, #KEYS do
  redis.call('HSET', KEYS[i], f, now)
  redis.call('HINCRBY', KEYS[i], 'v', 1)
  redis.call('EXPIRE', KEYS[i], ARGV[2])
end
return #KEYS
)lua";

// KEYS: profile, state.  ARGV: token, ttl_ms, max_examples, max_recent,
// state_ttl_s, then the learner's committed effects, in order:
//   d sub category subcategory count first_seen last_seen decay_log2
//   m sub memory          (the point's memory state, encoded)
//   e field json          (an example; field e:{time}:{error_id})
//   r field exercise_id   (a correct answer; field r:{time}:{attempt_id})
//   k                     (the learner exists)
//   x                     (the learner was erased, or the batch failed and
//                          may have committed: the profile goes)
// Runs after the store commit, before the writes are acknowledged. Ends the
// commit (drops its token, bumps the version). Applies the effects only to a
// profile already in Redis: an absent learner is not created (the next read
// loads it whole from the store). If the token is gone (reaped, or Redis lost
// it), a fill may have raced the commit: the profile is dropped instead.
// A state record that expired or was evicted since kBegin is made again by
// the version bump (which still turns away a fill that read before), and
// gets its TTL here: without one it would never go, and never vouch for a
// copy (RedisProfiles::Current wants an expiry).
// Returns 1 applied, 0 nothing to apply to, -1 dropped.
inline constexpr const char* kApply = R"lua(
local P, S = KEYS[1], KEYS[2]
local removed = redis.call('HDEL', S, 't:' .. ARGV[1])
redis.call('HINCRBY', S, 'v', 1)
if removed == 0 then
  -- Only then can HINCRBY have made the record again (a token found means
  -- kBegin's record, with kBegin's TTL).
  if redis.call('TTL', S) < 0 then redis.call('EXPIRE', S, ARGV[5]) end
  redis.call('DEL', P)
  return -1
end
if #ARGV < 6 or redis.call('EXISTS', P) == 0 then return 0 end
local function num(s)
  if s == '-inf' then return -math.huge end
  return tonumber(s)
end
local function fmt(x)
  if x == -math.huge then return '-inf' end
  return string.format('%.17g', x)
end
local LN2 = math.log(2)
local function logadd2(a, b)
  if a == -math.huge then return b end
  if b == -math.huge then return a end
  local hi, lo = math.max(a, b), math.min(a, b)
  return hi + math.log(1 + 2 ^ (lo - hi)) / LN2
end
local trim = false
local i = 6
while i <= #ARGV do
  local op = ARGV[i]
  if op == 'd' then
    local sub = ARGV[i + 1]
    local n = tonumber(ARGV[i + 4])
    if redis.call('HEXISTS', P, 's:' .. sub) == 0 then
      redis.call('HSET', P, 's:' .. sub, ARGV[i + 3], 'g:' .. sub, ARGV[i + 2],
                 'c:' .. sub, '0', 'f:' .. sub, '0', 'l:' .. sub, '0', 'd:' .. sub, '-inf')
    end
    if n ~= 0 then
      local old = tonumber(redis.call('HGET', P, 'c:' .. sub) or '0')
      if old == 0 then
        redis.call('HSET', P, 'f:' .. sub, ARGV[i + 5], 'l:' .. sub, ARGV[i + 6])
      else
        local f = math.min(num(redis.call('HGET', P, 'f:' .. sub)), num(ARGV[i + 5]))
        local l = math.max(num(redis.call('HGET', P, 'l:' .. sub)), num(ARGV[i + 6]))
        redis.call('HSET', P, 'f:' .. sub, fmt(f), 'l:' .. sub, fmt(l))
      end
      redis.call('HINCRBY', P, 'c:' .. sub, n)
      local d = num(redis.call('HGET', P, 'd:' .. sub) or '-inf')
      redis.call('HSET', P, 'd:' .. sub, fmt(logadd2(d, num(ARGV[i + 7]))))
    end
    i = i + 8
  elseif op == 'm' then
    if redis.call('HEXISTS', P, 's:' .. ARGV[i + 1]) == 1 then
      redis.call('HSET', P, 'm:' .. ARGV[i + 1], ARGV[i + 2])
    end
    i = i + 3
  elseif op == 'e' or op == 'r' then
    redis.call('HSET', P, ARGV[i + 1], ARGV[i + 2])
    trim = true
    i = i + 3
  elseif op == 'k' then
    redis.call('HSET', P, 'k', '1')
    i = i + 1
  elseif op == 'x' then
    redis.call('DEL', P)
    return 1
  else
    return redis.error_reply('errata apply: bad op ' .. tostring(op))
  end
end
if trim then
  local es, rs = {}, {}
  for _, k in ipairs(redis.call('HKEYS', P)) do
    local pre = string.sub(k, 1, 2)
    if pre == 'e:' then es[#es + 1] = k elseif pre == 'r:' then rs[#rs + 1] = k end
  end
  local function keep(list, n)
    if #list <= n then return end
    table.sort(list, function(a, b) return a > b end)
    for j = n + 1, #list do redis.call('HDEL', P, list[j]) end
  end
  keep(es, tonumber(ARGV[3]))
  keep(rs, tonumber(ARGV[4]))
end
redis.call('PEXPIRE', P, ARGV[2])
return 1
)lua";

}  // namespace errata::redis::lua
