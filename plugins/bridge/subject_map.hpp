// How edri types and NATS subjects map to each other: type `a.b` is subject
// `<prefix>.a.b` (or `a.b` with an empty prefix), and a subject under the
// prefix is the type without it. Both use `*` for one token and `>` for the
// rest, so an edri pattern maps to a NATS subject pattern the same way.
#pragma once

#include <string>
#include <string_view>

namespace edri_bridge {

std::string subject_for_type(std::string_view prefix, std::string_view type);
// The edri type a message on `subject` becomes: the subject without the
// prefix when it is under it, else the subject itself.
std::string type_for_subject(std::string_view prefix, std::string_view subject);
// A NATS subject: dot-separated non-empty tokens of printable characters
// without spaces; with `wildcards`, `*` as a whole token and `>` as the last.
bool valid_subject(std::string_view subject, bool wildcards);
// Whether some subject matches both patterns (valid ones, wildcards allowed).
bool subjects_overlap(std::string_view a, std::string_view b);

}  // namespace edri_bridge
