#include "base/time.h"

#include <gtest/gtest.h>

#include <chrono>
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
