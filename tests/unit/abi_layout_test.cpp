// The C ABI is append-only: each version's structs keep every field of the
// version before at the same offset and size, and the host accepts the sizes
// the oldest version that has each struct handed over. The layouts come from
// the frozen headers in tests/fixtures/abi (abi_layout/*.c).
#include "abi_layout/abi_layout.h"
#include "plugin/abi_sizes.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <tuple>

namespace {

using Key = std::pair<std::string, std::string>;
using Fields = std::map<Key, std::pair<long long, std::size_t>>;

Fields fields_of(const abi_layout& l) {
  Fields f;
  for (std::size_t i = 0; i < l.count; ++i) {
    const auto& e = l.entries[i];
    f[{e.scope, e.name}] = {e.offset, e.size};
  }
  return f;
}

std::string label(const abi_layout& l) { return std::to_string(l.major) + "." + std::to_string(l.minor); }

// Every field and constant of `older` is in `newer` unchanged; structs only
// grow, and what a struct gained lies past its older end.
void check_appends_only(const abi_layout& older, const abi_layout& newer) {
  const Fields a = fields_of(older);
  const Fields b = fields_of(newer);
  for (const auto& [key, where] : a) {
    INFO("ABI " << label(older) << " -> " << label(newer) << ": " << key.first << "." << key.second);
    auto it = b.find(key);
    REQUIRE(it != b.end());
    if (key.second == "sizeof") {
      CHECK(it->second.second >= where.second);
    } else {
      CHECK(it->second == where);
    }
  }
  for (const auto& [key, where] : b) {
    if (a.count(key) || key.first == "const" || key.second == "sizeof") continue;
    auto old_size = a.find({key.first, "sizeof"});
    if (old_size == a.end()) continue;  // a struct that is new in `newer`
    INFO("ABI " << label(newer) << " added " << key.first << "." << key.second);
    CHECK(where.first >= static_cast<long long>(old_size->second.second));
  }
}

}  // namespace

TEST_CASE("the frozen SDKs are the ABI versions they claim") {
  CHECK(label(abi_layout_1_0()) == "1.0");
  CHECK(label(abi_layout_1_1()) == "1.1");
  CHECK(label(abi_layout_1_2()) == "1.2");
  CHECK(label(abi_layout_1_3()) == "1.3");
  CHECK(label(abi_layout_1_4()) == "1.4");
  CHECK(abi_layout_now().major == EDRI_ABI_MAJOR);
  CHECK(abi_layout_now().minor == EDRI_ABI_MINOR);
}

TEST_CASE("every ABI minor version only appends to the one before") {
  check_appends_only(abi_layout_1_0(), abi_layout_1_1());
  check_appends_only(abi_layout_1_1(), abi_layout_1_2());
  check_appends_only(abi_layout_1_2(), abi_layout_1_3());
  check_appends_only(abi_layout_1_3(), abi_layout_1_4());
  check_appends_only(abi_layout_1_4(), abi_layout_now());
  check_appends_only(abi_layout_1_0(), abi_layout_now());
}

TEST_CASE("the host accepts each struct at the size of the oldest version that has it") {
  const Fields v10 = fields_of(abi_layout_1_0());
  const Fields v11 = fields_of(abi_layout_1_1());
  CHECK(edrid::abi::kTypeOpsMin == v10.at({"edri_type_ops", "sizeof"}).second);
  CHECK(edrid::abi::kSendOptionsMin == v10.at({"edri_send_options", "sizeof"}).second);
  CHECK(edrid::abi::kSendOptionsMin < fields_of(abi_layout_now()).at({"edri_send_options", "sizeof"}).second);
  CHECK(edrid::abi::kTunnelHandlersMin == v11.at({"edri_tunnel_handlers", "sizeof"}).second);
}

#if defined(__x86_64__) || defined(__aarch64__)
// Today's layout on LP64, written out: a change to abi.h that moves anything
// fails here even before an old plugin would notice.
TEST_CASE("today's ABI layout is pinned (LP64)") {
  const Fields now = fields_of(abi_layout_now());
  const std::vector<std::tuple<const char*, const char*, long long, std::size_t>> pinned{
#include "abi_layout/pinned_lp64.inc"
  };
  CHECK(pinned.size() == now.size());
  for (const auto& [scope, name, offset, size] : pinned) {
    INFO(scope << "." << name);
    auto it = now.find({scope, name});
    REQUIRE(it != now.end());
    CHECK(it->second.first == offset);
    CHECK(it->second.second == size);
  }
}
#endif
