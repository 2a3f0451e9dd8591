#include "base/time.h"

#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <thread>

#include "base/ids.h"

namespace lhcr {
namespace {

TEST(TimeTest, FormatsInstantAndHttpDate) {
  EXPECT_EQ(FormatInstant(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatInstant(1704164645678), "2024-01-02T03:04:05.678Z");
  EXPECT_EQ(FormatInstant(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatHttpDate(1704164645678), "Tue, 02 Jan 2024 03:04:05 GMT");
}

TEST(TimeTest, HttpDateIsFixedWidthImfFixdate) {
  EXPECT_EQ(FormatHttpDate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(FormatHttpDate(-1), "Wed, 31 Dec 1969 23:59:59 GMT");
  EXPECT_EQ(FormatHttpDate(1709208000000), "Thu, 29 Feb 2024 12:00:00 GMT");  // leap day
  EXPECT_EQ(FormatHttpDate(253402300799999), "Fri, 31 Dec 9999 23:59:59 GMT");
  EXPECT_EQ(FormatHttpDate(-62135596800000), "Mon, 01 Jan 0001 00:00:00 GMT");
  // The hand-made digits agree with strftime's across the years.
  for (Millis t = -2208988800000; t < 4102444800000; t += 7919 * 86400007LL) {
    time_t secs = static_cast<time_t>(t >= 0 ? t / 1000 : (t - 999) / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char want[64];
    std::strftime(want, sizeof want, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    ASSERT_EQ(FormatHttpDate(t), want) << t;
    EXPECT_EQ(ParseHttpDate(want), t - ((t % 1000) + 1000) % 1000) << t;
  }
}

TEST(TimeTest, ParsesHttpDate) {
  EXPECT_EQ(ParseHttpDate("Tue, 02 Jan 2024 03:04:05 GMT"), 1704164645000);
  EXPECT_EQ(ParseHttpDate("Tue, 02 Jan 2024 03:04:05"), std::nullopt);
  EXPECT_EQ(ParseHttpDate("Tue, 02 Foo 2024 03:04:05 GMT"), std::nullopt);
}

TEST(IdsTest, UuidsAreWellFormedAndDistinct) {
  std::string a = UuidGenerator().Next(), b = UuidGenerator().Next();
  EXPECT_EQ(a.size(), 36u);
  EXPECT_EQ(a[14], '7');  // version 7: time-ordered
  EXPECT_TRUE(a[19] == '8' || a[19] == '9' || a[19] == 'a' || a[19] == 'b');
  EXPECT_NE(a, b);
  // Made later, sorts later (at millisecond resolution).
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_LT(a, UuidGenerator().Next());
}

}  // namespace
}  // namespace lhcr
