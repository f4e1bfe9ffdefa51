#include "core/clock.h"

#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace errata {
namespace {

// Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

int DaysInMonth(int y, int m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

// Parses the part after the seconds: fraction and offset. Adjusts *t.
bool ParseTail(std::string_view s, size_t pos, Micros* t) {
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    Micros frac = 0;
    int n = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (n < 6) frac = frac * 10 + (s[pos] - '0');
      ++n;
      ++pos;
    }
    if (n == 0 || n > 9) return false;
    for (int i = n; i < 6; ++i) frac *= 10;
    *t += frac;
  }
  if (pos == s.size()) return true;
  if ((s[pos] == 'Z' || s[pos] == 'z') && pos + 1 == s.size()) return true;
  if (s[pos] != '+' && s[pos] != '-') return false;
  int hh, mm;
  if (pos + 6 != s.size() || !Digits(s, pos + 1, 2, &hh) || s[pos + 3] != ':' ||
      !Digits(s, pos + 4, 2, &mm) || hh > 23 || mm > 59) {
    return false;
  }
  const Micros offset = (hh * 3600 + mm * 60) * kMicrosPerSecond;
  *t += s[pos] == '+' ? -offset : offset;
  return true;
}

}  // namespace

Micros NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void AppendTime(std::string* out, Micros t) {
  int64_t days = t / kMicrosPerDay;
  Micros rem = t % kMicrosPerDay;
  if (rem < 0) {
    rem += kMicrosPerDay;
    --days;
  }
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  const int64_t secs = rem / kMicrosPerSecond;
  // YYYY-MM-DDTHH:MM:SS.uuuuuuZ by hand: snprintf cost ~3k instructions, and
  // every read response carries a few of these.
  if (y < 0 || y > 9999) {
    char buf[48];
    const int n = std::snprintf(
        buf, sizeof(buf), "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%06lldZ", static_cast<long long>(y),
        m, d, static_cast<long long>(secs / 3600), static_cast<long long>(secs / 60 % 60),
        static_cast<long long>(secs % 60), static_cast<long long>(rem % kMicrosPerSecond));
    out->append(buf, static_cast<size_t>(n));
    return;
  }
  // Two digits at a time from a table: half the divisions of one at a time.
  static constexpr auto kPairs = [] {
    std::array<char, 200> t{};
    for (int i = 0; i < 100; ++i) {
      t[2 * i] = static_cast<char>('0' + i / 10);
      t[2 * i + 1] = static_cast<char>('0' + i % 10);
    }
    return t;
  }();
  char b[27];
  auto put2 = [&b](size_t at, int64_t v) { std::memcpy(b + at, &kPairs[2 * v], 2); };
  const int64_t us = rem % kMicrosPerSecond;
  put2(0, y / 100);
  put2(2, y % 100);
  b[4] = '-';
  put2(5, m);
  b[7] = '-';
  put2(8, d);
  b[10] = 'T';
  put2(11, secs / 3600);
  b[13] = ':';
  put2(14, secs / 60 % 60);
  b[16] = ':';
  put2(17, secs % 60);
  b[19] = '.';
  put2(20, us / 10000);
  put2(22, us / 100 % 100);
  put2(24, us % 100);
  b[26] = 'Z';
  out->append(b, sizeof(b));
}

std::string FormatTime(Micros t) {
  std::string out;
  AppendTime(&out, t);
  return out;
}

std::optional<Micros> ParseTime(std::string_view s) {
  int y, mo, d, h = 0, mi = 0, sec = 0;
  if (!Digits(s, 0, 4, &y) || s.size() < 10 || s[4] != '-' || !Digits(s, 5, 2, &mo) ||
      s[7] != '-' || !Digits(s, 8, 2, &d)) {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > DaysInMonth(y, mo)) return std::nullopt;
  Micros t = DaysFromCivil(y, mo, d) * kMicrosPerDay;
  if (s.size() == 10) return t;
  if ((s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !Digits(s, 11, 2, &h) ||
      s.size() < 19 || s[13] != ':' || !Digits(s, 14, 2, &mi) || s[16] != ':' ||
      !Digits(s, 17, 2, &sec) || h > 23 || mi > 59 || sec > 60) {
    return std::nullopt;
  }
  t += (h * 3600 + mi * 60 + std::min(sec, 59)) * kMicrosPerSecond;
  if (!ParseTail(s, 19, &t)) return std::nullopt;
  return t;
}

}  // namespace errata
