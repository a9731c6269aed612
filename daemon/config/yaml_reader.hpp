// Typed, checked reads from a YAML document that collect every problem as
// `file:line:col: message` instead of stopping at the first.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <yaml-cpp/yaml.h>

namespace edrid {

class YamlReader {
 public:
  YamlReader(std::string file, std::vector<std::string>& problems)
      : file_(std::move(file)), problems_(problems) {}

  void error(const YAML::Mark& at, const std::string& message);
  void error(const YAML::Node& at, const std::string& message, const YAML::Mark& fallback = {});

  // Checks n is a map whose keys are all in `allowed`; reports each unknown key.
  bool map(const YAML::Node& n, std::string_view what,
           std::initializer_list<std::string_view> allowed, const YAML::Mark& fallback = {});
  // Scalars, with ${VAR} substitution.
  std::optional<std::string> str(const YAML::Node& n, std::string_view what);
  std::optional<std::int64_t> integer(const YAML::Node& n, std::string_view what,
                                      std::int64_t min, std::int64_t max);
  std::optional<bool> boolean(const YAML::Node& n, std::string_view what);
  std::optional<double> number(const YAML::Node& n, std::string_view what, double min, double max);
  std::optional<std::string> one_of(const YAML::Node& n, std::string_view what,
                                    std::initializer_list<std::string_view> choices);
  std::optional<std::vector<std::string>> string_list(const YAML::Node& n, std::string_view what);
  // Any YAML value as JSON (scalars typed as YAML 1.2 core schema would).
  // Aliases are expanded, so a cycle (`&a [*a]`) or an alias bomb would
  // recurse or grow without end: nesting deeper than kMaxDepth or more than
  // kMaxNodes values in one call is an error at the offending node.
  std::optional<nlohmann::json> any(const YAML::Node& n, std::string_view what);
  static constexpr int kMaxDepth = 64;
  static constexpr std::size_t kMaxNodes = 100'000;

  const std::string& file() const noexcept { return file_; }
  bool ok() const noexcept { return problems_.empty(); }

 private:
  std::optional<nlohmann::json> any(const YAML::Node& n, std::string_view what, int depth, std::size_t& budget);

  std::string file_;
  std::vector<std::string>& problems_;
};

}  // namespace edrid
