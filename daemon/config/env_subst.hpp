// ${NAME} and ${NAME:-default} in config values; $$ stands for a literal $.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace edrid {

// The text with variables replaced, or nullopt with the reason in *error
// (an unset variable without default, or an unterminated ${).
std::optional<std::string> substitute_env(std::string_view text, std::string* error);

}  // namespace edrid
