// One event of a durable queue as it is kept on disk: its header, what only
// some events carry (delivery number, dedupe id), the priority its manager
// gives it, and its payload's MessagePack bytes. Version 1, little-endian,
// in the same length-prefixed layout as the link and worker frames; the
// byte layout is in docs/protocol.md ("Durable queue records").
#pragma once

#include "event/event.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace edrid {

constexpr std::uint8_t kJournalRecordVersion = 1;

struct JournalRecord {
  EventPtr event;
  std::int32_t priority = 0;  // the delivery's, which its manager may have chosen
};

// Appends ev's record to `out`; false (err set) when its payload cannot be
// encoded.
bool encode_journal_record(const Event& ev, std::int32_t priority, std::string& out, std::string* err);
// The event a record holds, or nullopt with *why when the bytes are not a
// whole record of a version this edrid reads.
std::optional<JournalRecord> decode_journal_record(const std::uint8_t* p, std::size_t n, std::string* why);

}  // namespace edrid
