#include "base/ids.h"

#include <cstdio>
#include <random>

namespace lhcr {
namespace {

class UuidGeneratorImpl : public IdGenerator {
 public:
  std::string Next() override {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    uint64_t a = rng(), b = rng();
    a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
    b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 1
    char buf[37];
    std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                  static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xffff),
                  static_cast<unsigned>(b >> 48),
                  static_cast<unsigned long long>(b & 0xffffffffffffULL));
    return buf;
  }
};

}  // namespace

IdGenerator& UuidGenerator() {
  static UuidGeneratorImpl gen;
  return gen;
}

}  // namespace lhcr
