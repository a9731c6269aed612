#include "event/content_filter.hpp"

#include <boost/regex.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <variant>

namespace edrid {
namespace {

using json = nlohmann::json;

// Combinators nest at most this deep: a filter from another router is
// compiled and evaluated recursively.
constexpr int kMaxDepth = 32;

// ---- A MessagePack value in place: scalars decoded, containers as their
// element count and where their elements start.
struct Value {
  enum class T { nil, boolean, integer, floating, str, bin, array, map, ext } t = T::nil;
  bool b = false;
  __int128 i = 0;
  double d = 0;
  std::string_view s;
  std::uint64_t n = 0;  // array elements, map entries
};

class Cursor {
 public:
  Cursor(const std::uint8_t* p, const std::uint8_t* end) : p_(p), end_(end) {}
  const std::uint8_t* pos() const noexcept { return p_; }
  const std::uint8_t* end() const noexcept { return end_; }

  // One value's head; a string's bytes are consumed too, a container's
  // elements are not.
  bool read(Value& v) noexcept {
    if (p_ >= end_) return false;
    const std::uint8_t b = *p_++;
    if (b <= 0x7f) return integer(v, b);
    if (b >= 0xe0) return integer(v, static_cast<std::int8_t>(b));
    if (b >= 0xa0 && b <= 0xbf) return str(v, b & 0x1fu, Value::T::str);
    if (b >= 0x90 && b <= 0x9f) return container(v, b & 0x0fu, Value::T::array);
    if (b >= 0x80 && b <= 0x8f) return container(v, b & 0x0fu, Value::T::map);
    std::uint64_t x = 0;
    switch (b) {
      case 0xc0: v.t = Value::T::nil; return true;
      case 0xc2: case 0xc3: v.t = Value::T::boolean; v.b = b == 0xc3; return true;
      case 0xcc: return be(1, x) && integer(v, x);
      case 0xcd: return be(2, x) && integer(v, x);
      case 0xce: return be(4, x) && integer(v, x);
      case 0xcf: return be(8, x) && integer(v, x);
      case 0xd0: return be(1, x) && integer(v, static_cast<std::int8_t>(x));
      case 0xd1: return be(2, x) && integer(v, static_cast<std::int16_t>(x));
      case 0xd2: return be(4, x) && integer(v, static_cast<std::int32_t>(x));
      case 0xd3: return be(8, x) && integer(v, static_cast<std::int64_t>(x));
      case 0xca: {
        if (!be(4, x)) return false;
        float f;
        const auto u = static_cast<std::uint32_t>(x);
        std::memcpy(&f, &u, 4);
        v.t = Value::T::floating;
        v.d = f;
        return true;
      }
      case 0xcb: {
        if (!be(8, x)) return false;
        std::memcpy(&v.d, &x, 8);
        v.t = Value::T::floating;
        return true;
      }
      case 0xd9: return be(1, x) && str(v, x, Value::T::str);
      case 0xda: return be(2, x) && str(v, x, Value::T::str);
      case 0xdb: return be(4, x) && str(v, x, Value::T::str);
      case 0xc4: return be(1, x) && str(v, x, Value::T::bin);
      case 0xc5: return be(2, x) && str(v, x, Value::T::bin);
      case 0xc6: return be(4, x) && str(v, x, Value::T::bin);
      case 0xdc: return be(2, x) && container(v, x, Value::T::array);
      case 0xdd: return be(4, x) && container(v, x, Value::T::array);
      case 0xde: return be(2, x) && container(v, x, Value::T::map);
      case 0xdf: return be(4, x) && container(v, x, Value::T::map);
      case 0xd4: return ext(v, 1);
      case 0xd5: return ext(v, 2);
      case 0xd6: return ext(v, 4);
      case 0xd7: return ext(v, 8);
      case 0xd8: return ext(v, 16);
      case 0xc7: return be(1, x) && ext(v, x);
      case 0xc8: return be(2, x) && ext(v, x);
      case 0xc9: return be(4, x) && ext(v, x);
      default: return false;
    }
  }
  // Skips what a value just read still has: a container's elements. Not
  // recursive: a hostile payload nested a million deep costs no stack.
  bool skip_rest(const Value& v) noexcept {
    std::uint64_t left = v.t == Value::T::array ? v.n : v.t == Value::T::map ? 2 * v.n : 0;
    Value e;
    while (left > 0) {
      if (!read(e)) return false;
      --left;
      if (e.t == Value::T::array) left += e.n;
      if (e.t == Value::T::map) left += 2 * e.n;
    }
    return true;
  }

 private:
  bool be(std::size_t n, std::uint64_t& x) noexcept {
    if (static_cast<std::size_t>(end_ - p_) < n) return false;
    x = 0;
    for (std::size_t k = 0; k < n; ++k) x = (x << 8) | *p_++;
    return true;
  }
  static bool integer(Value& v, __int128 x) noexcept {
    v.t = Value::T::integer;
    v.i = x;
    return true;
  }
  bool str(Value& v, std::uint64_t n, Value::T t) noexcept {
    if (static_cast<std::uint64_t>(end_ - p_) < n) return false;
    v.t = t;
    v.s = std::string_view(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return true;
  }
  bool container(Value& v, std::uint64_t n, Value::T t) noexcept {
    // Every element takes a byte at least.
    if (static_cast<std::uint64_t>(end_ - p_) < n) return false;
    v.t = t;
    v.n = n;
    return true;
  }
  bool ext(Value& v, std::uint64_t n) noexcept {
    if (static_cast<std::uint64_t>(end_ - p_) < n + 1) return false;
    p_ += n + 1;
    v.t = Value::T::ext;
    return true;
  }
  const std::uint8_t* p_;
  const std::uint8_t* end_;
};

// ---- What a filter compares with.
struct Scalar {
  enum class T { nil, boolean, integer, floating, str } t = T::nil;
  bool b = false;
  __int128 i = 0;
  double d = 0;
  std::string s;
};

bool is_scalar(const json& j) { return j.is_null() || j.is_boolean() || j.is_number() || j.is_string(); }

Scalar scalar_of(const json& j) {
  Scalar s;
  if (j.is_boolean()) {
    s.t = Scalar::T::boolean;
    s.b = j.get<bool>();
  } else if (j.is_number_unsigned()) {
    s.t = Scalar::T::integer;
    s.i = j.get<std::uint64_t>();
  } else if (j.is_number_integer()) {
    s.t = Scalar::T::integer;
    s.i = j.get<std::int64_t>();
  } else if (j.is_number_float()) {
    s.t = Scalar::T::floating;
    s.d = j.get<double>();
  } else if (j.is_string()) {
    s.t = Scalar::T::str;
    s.s = j.get<std::string>();
  }
  return s;
}

bool is_number(const Value& v) noexcept { return v.t == Value::T::integer || v.t == Value::T::floating; }
bool is_number(const Scalar& s) noexcept { return s.t == Scalar::T::integer || s.t == Scalar::T::floating; }

// <0, 0, >0; nullopt when the two do not compare (different kinds).
std::optional<int> compare(const Value& v, const Scalar& s) noexcept {
  if (is_number(v) && is_number(s)) {
    if (v.t == Value::T::integer && s.t == Scalar::T::integer) return v.i < s.i ? -1 : v.i > s.i ? 1 : 0;
    const double a = v.t == Value::T::integer ? static_cast<double>(v.i) : v.d;
    const double b = s.t == Scalar::T::integer ? static_cast<double>(s.i) : s.d;
    if (a != a || b != b) return std::nullopt;  // NaN compares with nothing
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (v.t == Value::T::str && s.t == Scalar::T::str) {
    const int c = v.s.compare(s.s);
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (v.t == Value::T::boolean && s.t == Scalar::T::boolean) return v.b == s.b ? 0 : 1;
  if (v.t == Value::T::nil && s.t == Scalar::T::nil) return 0;
  return std::nullopt;
}

enum class Op { eq, ne, one_of, gt, gte, lt, lte, prefix, suffix, contains, regex, present };

struct Condition {
  Op op;
  std::vector<Scalar> values;  // eq, ne: one; one_of: several; comparisons, strings: one
  std::shared_ptr<const boost::regex> re;
  bool present = true;
};

bool equal_any(const Value& v, const std::vector<Scalar>& values) noexcept {
  return std::any_of(values.begin(), values.end(), [&](const Scalar& s) {
    auto c = compare(v, s);
    return c && *c == 0;
  });
}

// One scalar value against one condition (not ne, not present).
bool holds(const Condition& c, const Value& v) noexcept {
  switch (c.op) {
    case Op::eq:
    case Op::one_of:
    case Op::ne: return equal_any(v, c.values);
    case Op::gt: case Op::gte: case Op::lt: case Op::lte: {
      if (v.t == Value::T::boolean || v.t == Value::T::nil) return false;
      auto r = compare(v, c.values.front());
      if (!r) return false;
      return c.op == Op::gt ? *r > 0 : c.op == Op::gte ? *r >= 0 : c.op == Op::lt ? *r < 0 : *r <= 0;
    }
    case Op::prefix: return v.t == Value::T::str && v.s.starts_with(c.values.front().s);
    case Op::suffix: return v.t == Value::T::str && v.s.ends_with(c.values.front().s);
    case Op::contains: return v.t == Value::T::str && v.s.find(c.values.front().s) != std::string_view::npos;
    case Op::regex: {
      if (v.t != Value::T::str) return false;
      try {
        return boost::regex_search(v.s.begin(), v.s.end(), *c.re);
      } catch (const std::exception& e) {
        // Boost gives up on a match that grows too costly (a hostile string
        // against a backtracking pattern): no match, and the router goes on.
        spdlog::debug("content filter: regex gave up on a {}-byte string: {}", v.s.size(), e.what());
        return false;
      }
    }
    case Op::present: return true;
  }
  return false;
}

}  // namespace

struct ContentFilter::Node {
  enum class Kind { all, any, negate, field } kind = Kind::all;
  std::vector<std::unique_ptr<Node>> kids;
  std::vector<std::string> path;  // field
  std::vector<Condition> conditions;

  bool eval(const std::uint8_t* data, const std::uint8_t* end) const noexcept;

 private:
  bool field(const std::uint8_t* data, const std::uint8_t* end) const noexcept;
};

namespace {

// Finds the value at `path` in the map at `data`. On success `c` stands
// after the value's head (a container's elements follow).
bool locate(const std::vector<std::string>& path, Cursor& c, Value& v) noexcept {
  if (!c.read(v) || v.t != Value::T::map) return false;
  for (std::size_t depth = 0; depth < path.size(); ++depth) {
    if (v.t != Value::T::map) return false;
    const std::uint64_t entries = v.n;
    bool found = false;
    Value k;
    for (std::uint64_t e = 0; e < entries; ++e) {
      if (!c.read(k)) return false;
      if (k.t != Value::T::str) {
        if (!c.skip_rest(k) || !c.read(v) || !c.skip_rest(v)) return false;
        continue;
      }
      if (!c.read(v)) return false;
      if (k.s == path[depth]) {
        found = true;
        break;
      }
      if (!c.skip_rest(v)) return false;
    }
    if (!found) return false;
  }
  return true;
}

// Whether the value `v` (just read by `c`) satisfies `cond`: a list
// satisfies it when one of its elements does; `ne` holds when none is equal.
bool satisfies(const Condition& cond, const Value& v, const Cursor& c) noexcept {
  if (v.t != Value::T::array) {
    const bool h = holds(cond, v);
    return cond.op == Op::ne ? !h : h;
  }
  Cursor elems(c.pos(), c.end());
  bool any = false;
  Value e;
  for (std::uint64_t k = 0; k < v.n && !any; ++k) {
    if (!elems.read(e)) return false;
    if (e.t != Value::T::array && e.t != Value::T::map) any = holds(cond, e);
    if (!elems.skip_rest(e)) return false;
  }
  return cond.op == Op::ne ? !any : any;
}

}  // namespace

bool ContentFilter::Node::field(const std::uint8_t* data, const std::uint8_t* end) const noexcept {
  Cursor c(data, end);
  Value v;
  const bool found = locate(path, c, v);
  for (const Condition& cond : conditions) {
    if (cond.op == Op::present) {
      if (found != cond.present) return false;
    } else if (!found) {
      if (cond.op != Op::ne) return false;
    } else if (!satisfies(cond, v, c)) {
      return false;
    }
  }
  return true;
}

bool ContentFilter::Node::eval(const std::uint8_t* data, const std::uint8_t* end) const noexcept {
  switch (kind) {
    case Kind::field: return field(data, end);
    case Kind::all:
      return std::all_of(kids.begin(), kids.end(), [&](const auto& k) { return k->eval(data, end); });
    case Kind::any:
      return std::any_of(kids.begin(), kids.end(), [&](const auto& k) { return k->eval(data, end); });
    case Kind::negate: return !kids.front()->eval(data, end);
  }
  return false;
}

namespace {

using Node = ContentFilter::Node;
using Path = std::vector<std::string>;

[[noreturn]] void fail(const Path& path, const std::string& what) { throw FilterError(path, what); }

Condition operator_condition(const std::string& op, const json& v, const Path& path) {
  static const std::pair<const char*, Op> kOps[] = {
      {"eq", Op::eq},         {"ne", Op::ne},         {"one_of", Op::one_of},     {"gt", Op::gt},
      {"gte", Op::gte},       {"lt", Op::lt},         {"lte", Op::lte},           {"prefix", Op::prefix},
      {"suffix", Op::suffix}, {"contains", Op::contains}, {"regex", Op::regex}, {"present", Op::present}};
  const auto it = std::find_if(std::begin(kOps), std::end(kOps), [&](const auto& o) { return op == o.first; });
  if (it == std::end(kOps)) {
    fail(path, "unknown filter operator '" + op +
                   "' (one of eq, ne, one_of, gt, gte, lt, lte, prefix, suffix, contains, regex, present; "
                   "a nested field is written as a dotted path, 'customer.tier')");
  }
  Condition c{it->second, {}, nullptr, true};
  switch (c.op) {
    case Op::eq:
    case Op::ne:
      if (!is_scalar(v)) fail(path, op + " takes a string, number, boolean or null");
      c.values.push_back(scalar_of(v));
      break;
    case Op::one_of:
      if (!v.is_array() || v.empty()) fail(path, "one_of takes a non-empty list of values");
      for (std::size_t k = 0; k < v.size(); ++k) {
        if (!is_scalar(v[k])) {
          Path at = path;
          at.push_back(std::to_string(k));
          fail(at, "one_of takes strings, numbers, booleans or null");
        }
        c.values.push_back(scalar_of(v[k]));
      }
      break;
    case Op::gt: case Op::gte: case Op::lt: case Op::lte:
      if (!v.is_number() && !v.is_string()) fail(path, op + " takes a number or a string");
      c.values.push_back(scalar_of(v));
      break;
    case Op::prefix: case Op::suffix: case Op::contains:
      if (!v.is_string()) fail(path, op + " takes a string");
      c.values.push_back(scalar_of(v));
      break;
    case Op::regex:
      if (!v.is_string()) fail(path, "regex takes a string");
      try {
        c.re = std::make_shared<const boost::regex>(v.get<std::string>(), boost::regex::perl);
      } catch (const boost::regex_error& e) {
        fail(path, "regex '" + v.get<std::string>() + "' does not compile: " + e.what());
      }
      break;
    case Op::present:
      if (!v.is_boolean()) fail(path, "present takes true or false");
      c.present = v.get<bool>();
      break;
  }
  return c;
}

std::unique_ptr<Node> field_node(const std::string& key, const json& v, const Path& path) {
  auto n = std::make_unique<Node>();
  n->kind = Node::Kind::field;
  std::size_t from = 0;
  while (true) {
    const std::size_t dot = key.find('.', from);
    const std::string part = key.substr(from, dot == std::string::npos ? std::string::npos : dot - from);
    if (part.empty()) fail(path, "bad field path '" + key + "': an empty name between dots");
    n->path.push_back(part);
    if (dot == std::string::npos) break;
    from = dot + 1;
  }
  if (is_scalar(v)) {
    n->conditions.push_back(Condition{Op::eq, {scalar_of(v)}, nullptr, true});
  } else if (v.is_array()) {
    n->conditions.push_back(operator_condition("one_of", v, path));
  } else {
    if (v.empty()) fail(path, "no condition for field '" + key + "'");
    for (const auto& [op, arg] : v.items()) {
      Path at = path;
      at.push_back(op);
      n->conditions.push_back(operator_condition(op, arg, at));
    }
  }
  return n;
}

std::unique_ptr<Node> expression(const json& j, const Path& path, int depth) {
  if (depth > kMaxDepth) fail(path, "filter nested more than " + std::to_string(kMaxDepth) + " deep");
  if (!j.is_object()) fail(path, "a filter is a map of field paths (or $and, $or, $not) to conditions");
  if (j.empty()) fail(path, "an empty filter (it would let every event through: leave it out)");
  auto all = std::make_unique<Node>();
  for (const auto& [key, v] : j.items()) {
    Path at = path;
    at.push_back(key);
    if (key == "$and" || key == "$or") {
      if (!v.is_array() || v.empty()) fail(at, key + " takes a non-empty list of filters");
      auto n = std::make_unique<Node>();
      n->kind = key == "$and" ? Node::Kind::all : Node::Kind::any;
      for (std::size_t k = 0; k < v.size(); ++k) {
        Path item = at;
        item.push_back(std::to_string(k));
        n->kids.push_back(expression(v[k], item, depth + 1));
      }
      all->kids.push_back(std::move(n));
    } else if (key == "$not") {
      auto n = std::make_unique<Node>();
      n->kind = Node::Kind::negate;
      n->kids.push_back(expression(v, at, depth + 1));
      all->kids.push_back(std::move(n));
    } else if (!key.empty() && key.front() == '$') {
      fail(at, "unknown filter combinator '" + key + "' (one of $and, $or, $not)");
    } else {
      all->kids.push_back(field_node(key, v, at));
    }
  }
  if (all->kids.size() == 1) return std::move(all->kids.front());
  return all;
}

}  // namespace

ContentFilter::ContentFilter(std::unique_ptr<Node> root, std::string text)
    : root_(std::move(root)), text_(std::move(text)) {}
ContentFilter::~ContentFilter() = default;

std::shared_ptr<const ContentFilter> ContentFilter::compile(const nlohmann::json& spec) {
  auto root = expression(spec, {}, 0);
  return std::shared_ptr<const ContentFilter>(new ContentFilter(std::move(root), spec.dump()));
}

std::shared_ptr<const ContentFilter> ContentFilter::parse(std::string_view text) {
  json spec = json::parse(text, nullptr, false);
  if (spec.is_discarded()) fail({}, "filter text is not JSON");
  return compile(spec);
}

std::shared_ptr<const ContentFilter> ContentFilter::from_peer(std::string_view text, std::string* error) {
  if (text.empty()) return nullptr;
  try {
    return parse(text);
  } catch (const FilterError& e) {
    if (error) *error = e.what();
    return nullptr;
  }
}

bool ContentFilter::matches(const std::uint8_t* data, std::size_t len) const noexcept {
  if (!data || len == 0) return false;
  Cursor c(data, data + len);
  Value root;
  if (!c.read(root) || root.t != Value::T::map) return false;
  return root_->eval(data, data + len);
}

}  // namespace edrid
