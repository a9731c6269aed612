// A condition on an event's payload fields that a subscription can carry
// (YAML `filters:` on a manager, Context::filter in the SDK). Compiled once;
// evaluated on the payload's MessagePack encoding in place, without
// decoding it into objects. The same filter text travels to the switch with
// the subscription, so events that no router wants do not cross the network.
//
// The language (docs/configuration.md, "Content filters"): a JSON/YAML map
// whose keys are dotted field paths (all must hold) or the combinators
// `$and`, `$or` (lists of filters) and `$not` (a filter). A field's
// condition is a scalar (equal), a list of scalars (one of them), or a map
// of operators: eq, ne, one_of, gt, gte, lt, lte, prefix, suffix,
// contains, regex, present.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace edrid {

// A filter that does not compile. `path` leads from the filter's root to the
// offending key or value (keys, and list indices as numbers), so the config
// reader can point at its line and column.
class FilterError : public std::runtime_error {
 public:
  FilterError(std::vector<std::string> path, const std::string& what)
      : std::runtime_error(what), path_(std::move(path)) {}
  const std::vector<std::string>& path() const noexcept { return path_; }

 private:
  std::vector<std::string> path_;
};

class ContentFilter {
 public:
  struct Node;
  // Throws FilterError.
  static std::shared_ptr<const ContentFilter> compile(const nlohmann::json& spec);
  // From the filter's canonical text (a subscription from another router).
  // Throws FilterError, also for text that is not JSON.
  static std::shared_ptr<const ContentFilter> parse(std::string_view text);
  // A filter another router sent: "" is none, and one that does not compile
  // is none too, with the reason in *error (counting it as no filter is the
  // safe side: the router that sent it filters each event again itself).
  static std::shared_ptr<const ContentFilter> from_peer(std::string_view text, std::string* error);
  ~ContentFilter();

  // Whether a payload (its MessagePack encoding) passes. A payload that is
  // not a map, or not valid MessagePack, passes no filter.
  bool matches(const std::uint8_t* data, std::size_t len) const noexcept;
  // Compact JSON with sorted keys: equal filters have equal text.
  const std::string& text() const noexcept { return text_; }

 private:
  ContentFilter(std::unique_ptr<Node> root, std::string text);
  std::unique_ptr<Node> root_;
  std::string text_;
};

}  // namespace edrid
