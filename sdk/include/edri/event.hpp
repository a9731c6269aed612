// Typed events: a plain struct plus one EDRI_EVENT line.
//
//   namespace demo {
//   struct Echo { std::string text; };
//   EDRI_EVENT(Echo, "demo.echo", text)
//   }
//
// The line gives the routing type name and the fields; JSON and MessagePack
// (de)serialisation come from it, as does the type fingerprint that lets two
// plugins built from the same header share the object without serialising.
// Use it in the struct's namespace. A request's response data type defaults to
// the request struct itself; declare `using response = OtherStruct;` inside the
// struct to change it. `static constexpr int schema_version = N;` bumps the
// fingerprint when the meaning of fields changes but their names do not.
// `static constexpr bool shareable = true;` lets the type leave its router
// over a cluster link (see docs/configuration.md, connector.share).
#pragma once

#include <edri/abi.h>

#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <vector>
#include <new>
#include <optional>
#include <string_view>
#include <type_traits>

#include <nlohmann/json.hpp>

// EDRI_EVENT builds on nlohmann's field macros, and NLOHMANN_JSON_FROM_WITH_DEFAULT
// came in 3.11.
#if NLOHMANN_JSON_VERSION_MAJOR < 3 || (NLOHMANN_JSON_VERSION_MAJOR == 3 && NLOHMANN_JSON_VERSION_MINOR < 11)
#error "the edri SDK needs nlohmann_json 3.11 or newer"
#endif

#include <edri/detail/msgpack_writer.hpp>

namespace edri {

using json = nlohmann::json;

struct TypeDecl {
  const char* type_name;
  const char* fields;
};

// A valid event type name: non-empty tokens of [A-Za-z0-9_-] separated by
// dots, at most 255 characters. The router refuses events with other names.
constexpr bool is_valid_type_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 255) return false;
  bool token_empty = true;
  for (char c : name) {
    if (c == '.') {
      if (token_empty) return false;
      token_empty = true;
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
               c == '-') {
      token_empty = false;
    } else {
      return false;
    }
  }
  return !token_empty;
}

// A valid subscription pattern: a type name whose tokens may also be `*`
// (exactly one token), with `>` (one or more tokens) allowed as the last.
constexpr bool is_valid_pattern(std::string_view pattern) noexcept {
  if (pattern.empty() || pattern.size() > 255) return false;
  std::size_t start = 0;
  for (;;) {
    const std::size_t dot = pattern.find('.', start);
    const std::string_view tok =
        pattern.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (tok == ">") return dot == std::string_view::npos;
    if (tok != "*" && !is_valid_type_name(tok)) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// True when `type` matches subscription `pattern` (NATS convention: `*` is
// exactly one token, a final `>` one or more).
constexpr bool matches(std::string_view pattern, std::string_view type) noexcept {
  std::size_t p = 0, t = 0;
  for (;;) {
    const std::size_t pe = pattern.find('.', p), te = type.find('.', t);
    const std::string_view ptok = pattern.substr(p, pe == std::string_view::npos ? std::string_view::npos : pe - p);
    if (ptok == ">") return t < type.size();
    if (t > type.size()) return false;
    const std::string_view ttok = type.substr(t, te == std::string_view::npos ? std::string_view::npos : te - t);
    if (ttok.empty() || (ptok != "*" && ptok != ttok)) return false;
    if (pe == std::string_view::npos || te == std::string_view::npos) {
      return pe == std::string_view::npos && te == std::string_view::npos;
    }
    p = pe + 1;
    t = te + 1;
  }
}

template <class T>
concept TypedEvent = requires(const T* p) {
  { edri_type_decl(p) } -> std::same_as<TypeDecl>;
};

template <TypedEvent T>
constexpr TypeDecl type_decl() noexcept {
  return edri_type_decl(static_cast<const T*>(nullptr));
}

template <class T>
constexpr int schema_version() noexcept {
  if constexpr (requires { T::schema_version; }) {
    return T::schema_version;
  } else {
    return 1;
  }
}

namespace detail {
// `static constexpr bool shareable = true;` in the struct lets events of the
// type cross cluster links; without it they stay on their router.
template <class T>
constexpr bool is_shareable() noexcept {
  if constexpr (requires { T::shareable; }) {
    return T::shareable;
  } else {
    return false;
  }
}

template <class T>
struct response_of {
  using type = T;
};
template <class T>
  requires requires { typename T::response; }
struct response_of<T> {
  using type = typename T::response;
};

constexpr std::uint64_t fnv1a(std::uint64_t h, std::string_view s) noexcept {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}
constexpr std::uint64_t fnv1a(std::uint64_t h, std::uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i) {
    h ^= (v >> (i * 8)) & 0xffu;
    h *= 0x100000001b3ull;
  }
  return h;
}

// Everything that must agree for an object to be read in place by another
// shared object: declaration, layout, compiler and standard library ABI.
template <class T>
constexpr std::uint64_t compute_fingerprint() noexcept {
  constexpr TypeDecl d = type_decl<T>();
  std::uint64_t h = 0xcbf29ce484222325ull;
  h = fnv1a(h, std::string_view{d.type_name});
  h = fnv1a(h, std::string_view{d.fields});
  h = fnv1a(h, static_cast<std::uint64_t>(schema_version<T>()));
  h = fnv1a(h, static_cast<std::uint64_t>(sizeof(T)));
  h = fnv1a(h, static_cast<std::uint64_t>(alignof(T)));
  h = fnv1a(h, static_cast<std::uint64_t>(EDRI_ABI_MAJOR));
#if defined(__clang__)
  h = fnv1a(h, std::string_view{"clang"});
  h = fnv1a(h, static_cast<std::uint64_t>(__clang_major__));
#elif defined(__GNUC__)
  h = fnv1a(h, std::string_view{"gcc"});
  h = fnv1a(h, static_cast<std::uint64_t>(__GNUC__));
#endif
#if defined(_GLIBCXX_USE_CXX11_ABI)
  h = fnv1a(h, static_cast<std::uint64_t>(_GLIBCXX_USE_CXX11_ABI));
#endif
#if defined(_LIBCPP_VERSION)
  h = fnv1a(h, std::string_view{"libc++"});
#endif
  return h;
}

struct ByteSink {
  void (*write)(void*, const std::uint8_t*, std::size_t);
  void* sink;
};

template <class T>
int encode_object(const void* object, std::uint32_t format,
                  void (*write)(void*, const std::uint8_t*, std::size_t), void* sink,
                  edri_error* err) noexcept {
  if (format != EDRI_FORMAT_MSGPACK) return EDRI_E_ENCODE;
  try {
    // A buffer kept per thread: an encoding is handed on at once (the host
    // copies it), so it need not be allocated per event. Taken, not used in
    // place, so an encoding started from inside this one gets its own.
    thread_local std::vector<std::uint8_t> spare;
    std::vector<std::uint8_t> bytes = std::move(spare);
    bytes.clear();
    const T& value = *static_cast<const T*>(object);
    if constexpr (DirectMsgpack<T>) {
      MsgpackWriter w(bytes);
      edri_write_msgpack(w, value);
    } else {
      json::to_msgpack(json(value), bytes);
    }
    write(sink, bytes.data(), bytes.size());
    if (bytes.capacity() <= 1u << 20) spare = std::move(bytes);  // not keep a rare big one
    return EDRI_OK;
  } catch (const std::exception& e) {
    if (err) {
      std::snprintf(err->message, sizeof err->message, "encode %s: %s", type_decl<T>().type_name,
                    e.what());
    }
    return EDRI_E_ENCODE;
  }
}

template <class T>
void destroy_object(void* object) noexcept {
  static_cast<T*>(object)->~T();
}
}  // namespace detail


template <TypedEvent T>
using response_t = typename detail::response_of<T>::type;

template <TypedEvent T>
constexpr std::uint64_t fingerprint() noexcept {
  // A constant, so reading an event in place never hashes at run time.
  constexpr std::uint64_t value = detail::compute_fingerprint<T>();
  return value;
}

// The C description of T handed to the host with every event of type T.
template <TypedEvent T>
const edri_type_ops* type_ops() noexcept {
  static const edri_type_ops ops{
      sizeof(edri_type_ops), type_decl<T>().type_name, fingerprint<T>(), sizeof(T), alignof(T),
      &detail::encode_object<T>,  &detail::destroy_object<T>,
      detail::is_shareable<T>() ? EDRI_TYPE_SHAREABLE : 0u,
  };
  return &ops;
}

namespace detail {
// A new host event holding a T moved into the host's allocation.
template <TypedEvent T>
edri_event* make_typed_event(const edri_host_api* host, edri_host_ctx* ctx, T&& value) {
  void* storage = nullptr;
  edri_event* ev = host->event_alloc(ctx, type_ops<std::remove_cvref_t<T>>(), &storage);
  if (!ev) throw std::bad_alloc();
  try {
    ::new (storage) std::remove_cvref_t<T>(std::forward<T>(value));
  } catch (...) {
    host->event_discard(ev);
    throw;
  }
  return ev;
}
}  // namespace detail

}  // namespace edri

namespace nlohmann {
// Optional fields encode as null and decode from null or absence.
template <class T>
struct adl_serializer<std::optional<T>> {
  static void to_json(json& j, const std::optional<T>& v) {
    if (v) {
      j = *v;
    } else {
      j = nullptr;
    }
  }
  static void from_json(const json& j, std::optional<T>& v) {
    if (j.is_null()) {
      v.reset();
    } else {
      v = j.get<T>();
    }
  }
};
}  // namespace nlohmann

// Pieces of EDRI_EVENT's direct MessagePack writer, one per field.
#define EDRI_DETAIL_COUNT_FIELD(field) +1
#define EDRI_DETAIL_WRITE_FIELD(field) \
  edri_w.string(#field);               \
  ::edri::detail::write_msgpack_value(edri_w, edri_v.field);

#define EDRI_DETAIL_READ_FIELD(field)                                         \
  if (edri_key == #field) {                                                   \
    ::edri::detail::read_msgpack_value(edri_r, edri_v.field, edri_depth + 1); \
    return true;                                                              \
  }

// Declares Type as an edri event named TypeName with the listed fields.
// Missing fields decode to the struct's default member values.
#define EDRI_EVENT(Type, TypeName, ...)                                                       \
  inline void to_json(::nlohmann::json& nlohmann_json_j, const Type& nlohmann_json_t) {       \
    nlohmann_json_j = ::nlohmann::json::object();                                             \
    (void)nlohmann_json_t;                                                                    \
    __VA_OPT__(NLOHMANN_JSON_EXPAND(NLOHMANN_JSON_PASTE(NLOHMANN_JSON_TO, __VA_ARGS__)))      \
  }                                                                                           \
  inline void from_json(const ::nlohmann::json& nlohmann_json_j, Type& nlohmann_json_t) {     \
    if (!nlohmann_json_j.is_object() && !nlohmann_json_j.is_null())                           \
      throw ::std::invalid_argument("expected an object for " TypeName);                      \
    if (nlohmann_json_j.is_null()) return;                                                    \
    const Type nlohmann_json_default_obj{};                                                   \
    (void)nlohmann_json_default_obj;                                                          \
    (void)nlohmann_json_t;                                                                    \
    __VA_OPT__(NLOHMANN_JSON_EXPAND(                                                          \
        NLOHMANN_JSON_PASTE(NLOHMANN_JSON_FROM_WITH_DEFAULT, __VA_ARGS__)))                   \
  }                                                                                           \
  inline void edri_write_msgpack(::edri::detail::MsgpackWriter& edri_w, const Type& edri_v) {  \
    (void)edri_v;                                                                             \
    edri_w.map_header(0 __VA_OPT__(NLOHMANN_JSON_EXPAND(                                      \
        NLOHMANN_JSON_PASTE(EDRI_DETAIL_COUNT_FIELD, __VA_ARGS__))));                         \
    __VA_OPT__(NLOHMANN_JSON_EXPAND(NLOHMANN_JSON_PASTE(EDRI_DETAIL_WRITE_FIELD, __VA_ARGS__))) \
  }                                                                                           \
  inline void edri_read_msgpack(::edri::detail::MsgpackReader& edri_r, Type& edri_v, int edri_depth) { \
    /* Fields absent from a nested object get Type{}'s values, as from_json gives. */         \
    if (edri_depth > 0) edri_v = Type{};                                                      \
    ::edri::detail::read_msgpack_object(edri_r, TypeName, edri_depth, [&](::std::string_view edri_key) { \
      (void)edri_key;                                                                         \
      __VA_OPT__(NLOHMANN_JSON_EXPAND(NLOHMANN_JSON_PASTE(EDRI_DETAIL_READ_FIELD, __VA_ARGS__))) \
      return false;                                                                           \
    });                                                                                       \
  }                                                                                           \
  inline constexpr ::edri::TypeDecl edri_type_decl(const Type*) noexcept {                    \
    return ::edri::TypeDecl{TypeName, #__VA_ARGS__};                                          \
  }
