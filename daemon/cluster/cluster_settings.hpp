// Clustering settings from the `switch:` and `connector:` config sections
// (docs/configuration.md). Kept free of networking headers so the config
// reader does not pull them in.
#pragma once

#include <chrono>
#include <filesystem>
#include <cstdint>
#include <string>
#include <vector>

namespace edrid::cluster {

struct ReplayLimits {
  std::size_t max_bytes = 64u << 20;
  std::chrono::milliseconds max_age{60'000};
  // While the link is up, senders are held back once this many bytes are
  // unacknowledged (or half of max_bytes, if less), until half of it is
  // acknowledged. The rest of the budget is for outages. The window must
  // cover what sits in socket buffers and on the wire (a relaying proxy
  // needed more than 4 MiB on loopback); beyond that, a larger one only
  // makes the frames in flight colder in the cache by the time they are
  // written (switch-notify 4 KiB: +12 % at 8 MiB instead of 32 MiB).
  std::size_t window_bytes = 8u << 20;
  bool operator==(const ReplayLimits&) const = default;
};

// TLS on a link (`tls:` under switch: or connector:). The switch needs cert
// and key; with ca it also asks routers for a certificate signed by it
// (mutual TLS). A router verifies the switch against ca (or the system's
// roots without it), under server_name (default: the host it connects to);
// cert and key give it a certificate of its own for mutual TLS.
struct TlsSettings {
  bool enabled = false;
  std::filesystem::path cert;
  std::filesystem::path key;
  std::filesystem::path ca;
  std::string server_name;
  bool operator==(const TlsSettings&) const = default;
};

struct LinkSettings {
  std::string secret;     // empty: no secret
  bool insecure = false;  // without a secret, accept peers that are not on loopback
  std::chrono::milliseconds heartbeat{1'000};
  std::chrono::milliseconds dead_peer{5'000};
  ReplayLimits replay;
  std::uint32_t max_frame = 16u << 20;
  // Until a peer has authenticated, it may send frames of at most
  // kPreAuthFrame bytes (a hello and an auth frame need a few hundred) and
  // must finish within `handshake`: an unauthenticated connection costs a
  // few KiB, never max_frame, and cannot be held open a byte at a time.
  static constexpr std::uint32_t kPreAuthFrame = 4096;
  std::chrono::milliseconds handshake{10'000};
  // While notifications keep coming, a link writes them at most once per
  // this interval, so each write carries many: a write per handful of
  // frames cost two wake-ups and a system call each. Requests, responses,
  // tunnel and control frames go at once, as does a notification after a
  // quiet spell. 0 writes whenever frames are ready.
  std::chrono::microseconds coalesce{100};
  TlsSettings tls;
  bool operator==(const LinkSettings&) const = default;
};

struct SwitchSettings {
  std::string host = "127.0.0.1";
  std::uint16_t port = 7400;
  LinkSettings link;
  std::chrono::milliseconds settle{2'000};
  // Where the switch keeps which routers it links (switch_membership.hpp);
  // empty keeps nothing. Set from router.state_dir, not from its own key.
  std::filesystem::path membership_file;
  bool operator==(const SwitchSettings&) const = default;
};

struct ConnectorSettings {
  std::string host = "127.0.0.1";
  std::uint16_t port = 7400;
  LinkSettings link;
  std::chrono::milliseconds reconnect_min{100};
  std::chrono::milliseconds reconnect_max{5'000};
  // How often the router tells the switch its work per group (when it changed).
  std::chrono::milliseconds load_report{20};
  // Sharing policy over the SDK's per-type declaration: `local` patterns
  // never leave, `share` patterns always may.
  std::vector<std::string> share;
  std::vector<std::string> local;
  bool operator==(const ConnectorSettings&) const = default;
};

}  // namespace edrid::cluster
