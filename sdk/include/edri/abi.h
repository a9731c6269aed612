/*
 * edri plugin ABI — the whole contract between edrid and a manager plugin.
 *
 * Pure C on purpose: only POD structs, function pointers and host-owned memory
 * cross the shared-object boundary, so a plugin built with another compiler or
 * standard library still loads (see docs/adr/0001-c-abi.md).
 *
 * Versioning rules:
 *   - every struct starts with its size (struct_size) so either side can tell
 *     which fields the other knows;
 *   - fields are only ever appended; nothing is reordered or removed;
 *   - a plugin whose EDRI_ABI_MAJOR differs from the host's is refused.
 *
 * A plugin exports exactly one symbol, EDRI_ENTRY_SYMBOL, returning its
 * descriptor. Everything else the plugin needs from the host comes through the
 * edri_host_api table handed to create(), so a plugin has no undefined symbols
 * on the host and can be tested against a fake host.
 */
#ifndef EDRI_ABI_H
#define EDRI_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EDRI_ABI_MAGIC 0x49524445u /* "EDRI" little endian */
#define EDRI_ABI_MAJOR 1
#define EDRI_ABI_MINOR 5
#define EDRI_ENTRY_SYMBOL "edri_plugin_entry"

#if defined(_WIN32)
#define EDRI_EXPORT __declspec(dllexport)
#else
#define EDRI_EXPORT __attribute__((visibility("default")))
#endif

typedef enum edri_kind {
  EDRI_KIND_NOTIFICATION = 0,
  EDRI_KIND_REQUEST = 1,
  EDRI_KIND_RESPONSE = 2,
  EDRI_KIND_TUNNEL = 3
} edri_kind;

typedef enum edri_status {
  EDRI_STATUS_OK = 0,
  EDRI_STATUS_ERROR = 1,
  EDRI_STATUS_NOT_FOUND = 2, /* nobody subscribed */
  EDRI_STATUS_TIMEOUT = 3,
  EDRI_STATUS_REJECTED = 4, /* a full queue or a refusing responder */
  /* ABI 1.3: the sender called request_cancel. Only the sender's own last
   * callback carries it; responders cannot set it. */
  EDRI_STATUS_CANCELLED = 5
} edri_status;

typedef enum edri_format { EDRI_FORMAT_MSGPACK = 1 } edri_format;

typedef enum edri_log_level {
  EDRI_LOG_TRACE = 0,
  EDRI_LOG_DEBUG = 1,
  EDRI_LOG_INFO = 2,
  EDRI_LOG_WARN = 3,
  EDRI_LOG_ERROR = 4,
  EDRI_LOG_CRITICAL = 5
} edri_log_level;

/* Return codes of host functions. */
#define EDRI_OK 0
#define EDRI_E_INVALID -1   /* bad argument, e.g. malformed pattern */
#define EDRI_E_DUPLICATE -2 /* a second handler for the same kind and pattern */
#define EDRI_E_REJECTED -3  /* destination queue full (reject policy) or closed */
#define EDRI_E_ENCODE -4    /* the payload could not be encoded */
#define EDRI_E_CLOSED -5    /* the tunnel is closed (or this end stopped sending) */
#define EDRI_E_AGAIN -6     /* the peer's window is full and the wait ran out */

typedef struct edri_id128 {
  uint64_t hi;
  uint64_t lo;
} edri_id128;

typedef struct edri_bytes {
  const uint8_t* data;
  size_t len;
} edri_bytes;

/* Fixed-size error slot the host hands to fallible plugin hooks. `key` is an
 * optional config key path ("interval_ms", "routes.2.path") so the host can
 * point at the YAML line that caused a configuration error. */
typedef struct edri_error {
  uint32_t struct_size;
  char key[128];
  char message[1024];
} edri_error;

/* How a payload type behaves. Lives in the plugin that created the object and
 * stays valid while the plugin is loaded (the host unloads plugins last). */
typedef struct edri_type_ops {
  uint32_t struct_size;
  const char* type_name;
  /* Hash of type name, schema version, field list, object layout and the
   * compiler/standard library ABI. Equal fingerprints mean a receiver may read
   * the object in place; otherwise it must decode the encoding. */
  uint64_t fingerprint;
  size_t object_size;
  size_t object_align;
  /* Writes the object's encoding in `format` through write(sink, ...).
   * Returns EDRI_OK, or EDRI_E_ENCODE with a message in err. */
  int (*encode)(const void* object, uint32_t format,
                void (*write)(void* sink, const uint8_t* data, size_t len),
                void* sink, edri_error* err);
  /* Runs the object's destructor in place; the host frees the memory. */
  void (*destroy)(void* object);
  /* ABI 1.1: EDRI_TYPE_* bits. */
  uint32_t flags;
} edri_type_ops;

/* Events of this type may leave their router over a cluster link (the
 * connector's YAML `share:` / `local:` patterns override it). */
#define EDRI_TYPE_SHAREABLE 0x1u

/* Read-only view of an event's header. Strings are NUL-terminated and live as
 * long as the event. */
typedef struct edri_event_header {
  uint32_t struct_size;
  edri_id128 id;
  edri_id128 trace_id;       /* kept across every hop */
  edri_id128 correlation_id; /* responses: the id of the request */
  const char* type;          /* dot-separated routing type name */
  uint32_t kind;             /* edri_kind */
  int32_t priority;          /* lower = sooner */
  const char* origin_router;
  const char* sender;        /* manager name */
  int64_t timestamp_ns;      /* CLOCK_REALTIME at send */
  int64_t deadline_ns;       /* CLOCK_REALTIME, 0 = none */
  uint32_t status;           /* responses: edri_status */
  const char* message;       /* responses: human-readable detail, may be "" */
  const char* payload_type;  /* type name of the payload, "" when empty */
} edri_event_header;

typedef struct edri_event edri_event;       /* host-owned, refcounted */
typedef struct edri_tunnel edri_tunnel;     /* host-owned, one per tunnel end */
typedef struct edri_host_ctx edri_host_ctx; /* one per manager instance */
typedef struct edri_response edri_response; /* a request handler's reply slot */

typedef struct edri_send_options {
  uint32_t struct_size;
  int32_t priority;    /* used when has_priority != 0, else the default 0 */
  uint32_t has_priority;
  int64_t timeout_ms;  /* requests: 0 = router default */
  /* ABI 1.3: EDRI_SEND_* bits. Older hosts ignore them (check abi_minor). */
  uint32_t flags;
  /* ABI 1.3: when has_trace_id != 0 and trace_id is not zero, the event
   * carries this trace id (one from outside, such as a W3C traceparent)
   * instead of the handled event's or a new one. */
  uint32_t has_trace_id;
  edri_id128 trace_id;
  /* ABI 1.5: NULL or a NUL-terminated key, at most 255 bytes, that says two
   * sends are the same work: a receiver with dedupe_ms skips an event whose
   * key it finished within the window, as it skips a redelivered event id
   * (the key stands in for the id). Older hosts ignore it. */
  const char* dedupe_key;
} edri_send_options;

/* Never wait for room. Where a send would wait (a receiver's queue is full
 * under when_full: block, or a cluster link is congested), notify and
 * request send nothing and return EDRI_E_AGAIN; request then never calls
 * fn. The caller tries again later (for threads that must not stall, such
 * as a server's I/O threads). A queue that fills between the check and the
 * send refuses that one receiver, as when_full: reject would. */
#define EDRI_SEND_NO_WAIT 0x1u

/* Response delivery: on the sender's dispatch loop, or directly on whatever
 * thread completes the request (for futures; must not block). */
#define EDRI_DELIVER_QUEUED 0u
#define EDRI_DELIVER_DIRECT 1u

/* Called once per response; is_last != 0 on the final call for this request
 * (after it the host never calls again with this user pointer). */
typedef void (*edri_response_fn)(void* user, const edri_event* response, int is_last);
typedef void (*edri_timer_fn)(void* user);
typedef void (*edri_write_fn)(void* sink, const char* data, size_t len);

/* What a tunnel end tells its owner. Callbacks for one end never overlap and
 * come in order; they run where the owner's handlers run (its executor). */
typedef struct edri_tunnel_handlers {
  uint32_t struct_size;
  void* user;
  /* A message from the peer. The bytes are valid during the call; returning
   * gives the peer credit to send that many bytes more. */
  void (*on_message)(void* user, const uint8_t* data, size_t len);
  /* The peer sends nothing more: status EDRI_STATUS_OK after it half-closed
   * or closed normally; EDRI_STATUS_ERROR with a reason when it closed with
   * an error, died (a crashed worker) or the tunnel idled out. Once, after
   * every message. */
  void (*on_peer_closed)(void* user, uint32_t status, const char* reason);
  /* Last call for `user`: the host will not call these handlers again. */
  void (*release)(void* user);
} edri_tunnel_handlers;

typedef struct edri_host_api {
  uint32_t struct_size;
  uint16_t abi_major;
  uint16_t abi_minor;

  /* Events. event_alloc returns a new event (one reference) with uninitialised
   * storage for ops->object_size bytes in *object_out; construct the object
   * there, then send it. If construction fails, call event_discard. */
  edri_event* (*event_alloc)(edri_host_ctx* ctx, const edri_type_ops* ops, void** object_out);
  void (*event_discard)(edri_event* ev);
  /* A payload given as its encoding (for generic events without a struct). */
  edri_event* (*event_from_bytes)(edri_host_ctx* ctx, const char* payload_type,
                                  uint32_t format, const uint8_t* data, size_t len);
  void (*event_retain)(const edri_event* ev);
  void (*event_release)(const edri_event* ev);
  const edri_event_header* (*event_header)(const edri_event* ev);
  /* The object in place when its fingerprint matches, else NULL. */
  const void* (*event_object)(const edri_event* ev, uint64_t fingerprint);
  /* The payload's encoding, computed once and cached by the host. An empty
   * payload yields len 0. Returns EDRI_OK or EDRI_E_ENCODE. */
  int (*event_encoded)(const edri_event* ev, uint32_t format, edri_bytes* out);

  /* Routing. Patterns: dot-separated tokens, '*' = one token, '>' = one or
   * more trailing tokens. Subscriptions made before start take effect at
   * start. kind is EDRI_KIND_NOTIFICATION, _REQUEST or _RESPONSE. */
  int (*subscribe)(edri_host_ctx* ctx, uint32_t kind, const char* pattern,
                   uint32_t handler_id, edri_error* err);
  int (*unsubscribe)(edri_host_ctx* ctx, uint32_t kind, const char* pattern);
  /* Both take over the caller's reference to ev, also on failure. Return
   * EDRI_OK, EDRI_E_INVALID (bad type name; request still answers fn), or
   * EDRI_E_AGAIN (EDRI_SEND_NO_WAIT only; nothing sent, fn not called). */
  int (*notify)(edri_host_ctx* ctx, edri_event* ev, const edri_send_options* opts,
                uint32_t* delivered);
  /* fn may be NULL: responses then go to the manager's response handlers. */
  int (*request)(edri_host_ctx* ctx, edri_event* ev, const edri_send_options* opts,
                 edri_response_fn fn, void* user, uint32_t delivery, edri_id128* id_out);

  /* Inside a request handler. Setting data sets status ok unless a status
   * was set explicitly afterwards. set_data takes over the reference. */
  void (*response_set_status)(edri_response* resp, uint32_t status, const char* message);
  void (*response_set_data)(edri_response* resp, edri_event* data);

  /* The event being handled on the calling thread, or NULL. */
  const edri_event* (*current_event)(edri_host_ctx* ctx);

  /* Logging through the host: the host adds manager name and trace id. */
  int (*log_enabled)(edri_host_ctx* ctx, uint32_t level);
  void (*log)(edri_host_ctx* ctx, uint32_t level, const char* msg, size_t len);

  /* Timers fire on the manager's dispatch loop. interval_ms 0 = once.
   * Returns an id > 0, or 0 on failure. */
  uint64_t (*timer_start)(edri_host_ctx* ctx, int64_t delay_ms, int64_t interval_ms,
                          edri_timer_fn fn, void* user);
  void (*timer_cancel)(edri_host_ctx* ctx, uint64_t timer_id);

  /* The router's statistics as one JSON document. */
  void (*router_stats)(edri_host_ctx* ctx, edri_write_fn write, void* sink);

  /* ---- Tunnels (ABI 1.1): ordered, flow-controlled byte streams between two
   * managers' handlers, in the router process or in worker processes.
   * Opens a tunnel to the manager serving `type` (a handler subscribed with
   * kind EDRI_KIND_TUNNEL), offering `initial` (taken; may be NULL). Blocks
   * until it is accepted or refused, or timeout_ms (0: the router default).
   * Returns this end, or NULL with *status (NOT_FOUND, REJECTED, TIMEOUT or
   * ERROR) and the reason in err->message; then the host never calls the
   * handlers (nor their release). */
  edri_tunnel* (*tunnel_open)(edri_host_ctx* ctx, const char* type, edri_event* initial,
                              const edri_tunnel_handlers* handlers, int64_t timeout_ms,
                              uint32_t* status, edri_error* err);
  /* Inside a tunnel handler, about the offer it was given: accept (returns
   * this side's end, or NULL when the opener gave up already; the handlers
   * are then not used) or refuse with a reason. A handler that does neither
   * refuses. */
  edri_tunnel* (*tunnel_accept)(edri_host_ctx* ctx, const edri_event* offer,
                                const edri_tunnel_handlers* handlers);
  void (*tunnel_refuse)(edri_host_ctx* ctx, const edri_event* offer, const char* reason);
  /* Sends one message. Blocks while the peer's window is full, up to
   * timeout_ms (0 = as long as it takes, < 0 = not at all). Returns EDRI_OK,
   * EDRI_E_AGAIN (still full), or EDRI_E_CLOSED (with the reason in err). */
  int (*tunnel_send)(edri_tunnel* t, const uint8_t* data, size_t len, int64_t timeout_ms,
                     edri_error* err);
  /* Half-close: this end sends nothing more and keeps receiving. */
  void (*tunnel_shutdown)(edri_tunnel* t);
  /* Ends both directions; the peer's on_peer_closed gets status and reason. */
  void (*tunnel_close)(edri_tunnel* t, uint32_t status, const char* reason);
  /* The plugin lets go of the end (closing the tunnel if it is still open);
   * the handle is invalid afterwards. */
  void (*tunnel_release)(edri_tunnel* t);

  /* ---- ABI 1.2. event_alloc with `room` more bytes after the object, in
   * the same allocation, for the object's own data (edri::Draft writes
   * edri::ByteString fields there): *room_out points at them, valid as long
   * as the event. The host never moves the object. Check struct_size
   * before calling: older hosts lack it. */
  edri_event* (*event_alloc_room)(edri_host_ctx* ctx, const edri_type_ops* ops, size_t room,
                                  void** object_out, void** room_out);

  /* ---- ABI 1.3. The sender no longer wants the answers to its request
   * (its client went away, say). fn gets one last call (is_last != 0) with
   * status EDRI_STATUS_CANCELLED, queued or direct as the request asked;
   * responders in this router that have not started it skip it, and answers
   * still to come are dropped. A request that went to other routers still
   * runs there. Only the manager that sent the request may cancel it.
   * Returns EDRI_OK, or EDRI_E_INVALID when it is not waiting (answered,
   * timed out, cancelled, or another manager's). Check struct_size first. */
  int (*request_cancel)(edri_host_ctx* ctx, const edri_id128* request_id);

  /* ---- ABI 1.4. The router's statistics in the Prometheus text format
   * 0.0.4 (the metric families of edrid's /metrics), written to `write` in
   * one or more pieces. From a worker process: nothing is written. Check
   * struct_size first. */
  void (*router_metrics)(edri_host_ctx* ctx, edri_write_fn write, void* sink);
  /* ---- ABI 1.4. Which delivery of `ev` this is: 1, or 2 and more when a
   * manager with `delivery: at_least_once` gets it again after a failure. */
  uint32_t (*event_attempt)(const edri_event* ev);
  /* ---- ABI 1.4. Inside a handler: "not now". After the handler returns,
   * its event goes again in delay_ms, like a failed delivery (counted
   * against max_deliveries), and a request is not answered meanwhile. Only
   * for managers with delivery: at_least_once; elsewhere the event fails
   * with an error saying so. EDRI_E_INVALID outside a handler. */
  int (*retry_later)(edri_host_ctx* ctx, int64_t delay_ms);

  /* ---- ABI 1.5. A content filter: events of the types `pattern` matches
   * reach this manager only when their payload passes `filter_json` (the
   * filter language of docs/configuration.md, as JSON text). One filter per
   * pattern: setting it again replaces it, NULL or "" removes it. The first
   * pattern (in the order set, YAML `filters:` first) that matches a type
   * decides. Returns EDRI_OK, or EDRI_E_INVALID with the reason in err (a
   * bad pattern, a filter that does not compile). Check struct_size first. */
  int (*set_filter)(edri_host_ctx* ctx, const char* pattern, const char* filter_json, edri_error* err);
} edri_host_api;

/* The plugin descriptor. The first four fields are the frozen header every
 * ABI version keeps: the host reads them before trusting anything else. */
typedef struct edri_plugin_descriptor {
  uint32_t magic;     /* EDRI_ABI_MAGIC */
  uint16_t abi_major; /* EDRI_ABI_MAJOR the plugin was built with */
  uint16_t abi_minor;
  uint32_t struct_size;

  const char* name;
  const char* version;
  const char* sdk_version;
  /* JSON: {"fields":[{"name":..,"type":..,"default":..,"required":..,"doc":..}]}.
   * Types: string, integer, number, boolean, string_list, object, any. */
  const char* config_schema_json;

  /* Creates a manager instance with its (host-validated) config as JSON.
   * Handlers are registered through host->subscribe before it returns.
   * Returns NULL with err filled on failure. */
  void* (*create)(const edri_host_api* host, edri_host_ctx* ctx, const char* manager_name,
                  const char* config_json, size_t config_len, edri_error* err);
  int (*start)(void* instance, edri_error* err);
  int (*after_start)(void* instance, edri_error* err); /* may send events */
  void (*stop)(void* instance);
  void (*destroy)(void* instance);
  /* Runs handler handler_id on ev. resp is non-NULL for requests. Returns
   * EDRI_OK, or non-zero with err filled when the handler failed. */
  int (*handle)(void* instance, uint32_t handler_id, const edri_event* ev,
                edri_response* resp, edri_error* err);
} edri_plugin_descriptor;

typedef const edri_plugin_descriptor* (*edri_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* EDRI_ABI_H */
