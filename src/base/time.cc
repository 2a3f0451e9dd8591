#include "base/time.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace lhcr {
namespace {

class SystemClockImpl : public Clock {
 public:
  Millis Now() override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

std::tm Utc(Millis t) {
  time_t secs = static_cast<time_t>(t >= 0 ? t / 1000 : (t - 999) / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return tm;
}

}  // namespace

Clock& SystemClock() {
  static SystemClockImpl clock;
  return clock;
}

std::string FormatInstant(Millis t) {
  std::tm tm = Utc(t);
  int ms = static_cast<int>(((t % 1000) + 1000) % 1000);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

std::string FormatHttpDate(Millis t) {
  std::tm tm = Utc(t);
  const int year = tm.tm_year + 1900;
  if (year < 0 || year > 9999) {  // not an HTTP date, but say something
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday],
                  tm.tm_mday, kMonths[tm.tm_mon], year, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
  }
  // Every read's Last-Modified: fixed-width digits by hand, not snprintf
  // (which was most of the cost of formatting a read's headers).
  std::string out = "Ddd, 00 Mmm 0000 00:00:00 GMT";
  auto two = [&out](size_t at, int v) {
    out[at] = static_cast<char>('0' + v / 10);
    out[at + 1] = static_cast<char>('0' + v % 10);
  };
  std::memcpy(out.data(), kDays[tm.tm_wday], 3);
  two(5, tm.tm_mday);
  std::memcpy(out.data() + 8, kMonths[tm.tm_mon], 3);
  two(12, year / 100);
  two(14, year % 100);
  two(17, tm.tm_hour);
  two(20, tm.tm_min);
  two(23, tm.tm_sec);
  return out;
}

std::optional<Millis> ParseHttpDate(std::string_view s) {
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
  if (s.size() != 29 || s.substr(25) != " GMT") return std::nullopt;
  std::string str(s);
  char day[4], mon[4];
  int d, y, hh, mm, ss;
  if (std::sscanf(str.c_str(), "%3s, %2d %3s %4d %2d:%2d:%2d", day, &d, mon, &y, &hh, &mm, &ss) !=
      7) {
    return std::nullopt;
  }
  int month = -1;
  for (int i = 0; i < 12; ++i) {
    if (std::strcmp(mon, kMonths[i]) == 0) month = i;
  }
  if (month < 0 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60) return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = month;
  tm.tm_mday = d;
  tm.tm_hour = hh;
  tm.tm_min = mm;
  tm.tm_sec = ss;
  return static_cast<Millis>(timegm(&tm)) * 1000;
}

}  // namespace lhcr
