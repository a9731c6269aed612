// The api manager: HTTP in front of the router. Configured routes and the
// generic POST /events/{type} become requests (or notifications); their
// responses become HTTP answers. Also /healthz, /metrics and /stats.
#include "cors.hpp"
#include "cross_site_guard.hpp"
#include "expose_policy.hpp"
#include "http_answer.hpp"
#include "openapi.hpp"
#include "http_server.hpp"
#include "route_table.hpp"
#include "token_file.hpp"
#include "ws_frame.hpp"
#include "ws_requests.hpp"

#include <edri/edri.hpp>
#include <edri/json_text.hpp>

#include <boost/beast/http.hpp>

#include <atomic>
#include <charconv>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <variant>

namespace {

namespace http = boost::beast::http;
using edri::json;

// Strings from plugins (or decoded from a URL) need not be UTF-8; JSON text
// must be. Such bytes become U+FFFD in answers instead of an exception
// that would cost the client its answer.
constexpr auto kLossy = json::error_handler_t::replace;
using edri_api::Request;
using edri_api::Response;

unsigned http_status(edri::Status s) {
  switch (s) {
    case edri::Status::ok: return 200;
    case edri::Status::not_found: return 404;
    case edri::Status::timeout: return 504;
    case edri::Status::rejected: return 503;
    case edri::Status::error: return 500;
    case edri::Status::cancelled: return 499;  // nginx's "client closed request"
  }
  return 500;
}

Response make(unsigned status, const std::string& body, const char* type = "application/json") {
  Response res{static_cast<http::status>(status), 11};
  res.set(http::field::content_type, type);
  res.set(http::field::server, "edrid");
  res.body() = body;
  return res;
}

Response problem(unsigned status, const std::string& message) {
  return make(status, json{{"status", "error"}, {"message", message}}.dump(-1, ' ', false, kLossy));
}

// 400 for a path or query parameter that is not of its declared type,
// naming it, so a client can point at the field.
Response bad_parameter(std::string_view in, const std::string& name, edri_api::ParamType type,
                       const std::string& raw) {
  return make(400, json{{"status", "error"},
                        {"message", std::string(in) + " parameter '" + name + "' must be " +
                                        std::string(edri_api::to_string(type)) + ", not '" + raw + "'"},
                        {"parameter", name},
                        {"in", in}}
                       .dump(-1, ' ', false, kLossy));
}

class ApiManager : public edri::Manager {
 public:
  static edri::ConfigSchema config_schema() {
    using edri::FieldType;
    return edri::ConfigSchema{}
        .field("bind", FieldType::string, "127.0.0.1", "address to listen on")
        .field("port", FieldType::integer, 8080, "TCP port; 0 picks a free one (logged)")
        .field("threads", FieldType::integer, 2, "I/O threads")
        .field("timeout_ms", FieldType::integer, 10000, "default time to wait for a response")
        .field("body_limit_bytes", FieldType::integer, 1048576, "largest request body (413 beyond)")
        .field("idle_timeout_ms", FieldType::integer, 30000, "close a connection idle this long")
        .field("max_connections", FieldType::integer, 1024, "connections at once (503 beyond)")
        .field("max_connections_per_address", FieldType::integer, 256,
               "connections at once from one client address (503 beyond)")
        .field("header_timeout_ms", FieldType::integer, 10000,
               "once a request's first byte is in, its head must be whole within this")
        .field("tokens_file", FieldType::string, "", "bearer tokens, one per line; empty = no auth")
        .field("tls_cert", FieldType::string, "", "PEM certificate (chain): serve https and wss; empty = plain http")
        .field("tls_key", FieldType::string, "", "PEM private key for tls_cert")
        .field("websocket_path", FieldType::string, "/ws", "WebSocket endpoint; empty disables it")
        .field("ws_buffer_bytes", FieldType::integer, 4194304, "a client with more unsent bytes is dropped")
        .field("routes", FieldType::any, json::array(), "routes: {method, path, event, timeout_ms?, query?}")
        .field("middlewares", FieldType::string_list, json::array(),
               "request types asked, in order, before each incoming call is routed")
        .field("response_middlewares", FieldType::string_list, json::array(),
               "request types asked, in order, about each routed call's HTTP answer before it is sent")
        .field("expose", FieldType::any, json::array({">"}),
               "type patterns /events and WebSocket may reach: a list, or {publish: [...], subscribe: [...]};"
               " store.*, scheduler.*, edri.* and link.* only when a pattern names them")
        .field("allowed_hosts", FieldType::string_list, json::array(),
               "names accepted in the Host header besides IP literals and localhost; \"*\" = any")
        .field("allowed_origins", FieldType::string_list, json::array(),
               "browser origins (scheme://host:port) allowed besides the api's own; \"*\" = any")
        .field("cors_headers", FieldType::string_list, json::array({"content-type", "authorization", "traceparent"}),
               "request headers a page on an allowed origin may send (CORS preflight)")
        .field("cors_max_age_s", FieldType::integer, 600, "how long a browser may keep a CORS preflight's answer")
        .field("cors_credentials", FieldType::boolean, false,
               "let pages on allowed origins send cookies and HTTP auth (Access-Control-Allow-Credentials)")
        .field("max_json_depth", FieldType::integer, 128, "deepest nesting accepted in a JSON body or frame")
        .field("max_timeout_ms", FieldType::integer, 300000, "largest ?timeout_ms= a client may ask for")
        .field("ws_max_subscriptions", FieldType::integer, 256, "subscriptions one WebSocket client may hold")
        .field("ws_max_in_flight", FieldType::integer, 256,
               "requests one WebSocket client may have unanswered (more are refused, not queued)");
  }

  ApiManager(edri::Context& ctx, const edri::Config& config)
      : Manager(ctx),
        bind_(config.get<std::string>("bind")),
        port_(config.get<std::int64_t>("port")),
        threads_(config.get<std::int64_t>("threads")),
        timeout_(config.get<std::int64_t>("timeout_ms")),
        tls_(load_tls(config)),
        guard_(config.get<std::vector<std::string>>("allowed_hosts"),
               config.get<std::vector<std::string>>("allowed_origins"), tls_ ? "https" : "http"),
        cors_(edri_api::CorsSettings{config.get<std::vector<std::string>>("cors_headers"),
                                     std::chrono::seconds(at_least(config, "cors_max_age_s", 0)),
                                     config.get<bool>("cors_credentials")}),
        json_depth_(static_cast<std::size_t>(at_least(config, "max_json_depth", 1))),
        max_timeout_(at_least(config, "max_timeout_ms", 1)),
        ws_max_subscriptions_(static_cast<std::size_t>(at_least(config, "ws_max_subscriptions", 1))),
        ws_max_in_flight_(static_cast<std::size_t>(at_least(config, "ws_max_in_flight", 1))),
        tokens_(read_tokens(config.get<std::string>("tokens_file"))) {
    if (json_depth_ > 512) throw edri::ConfigError("max_json_depth", "max_json_depth must be at most 512");
    if (port_ < 0 || port_ > 65535) throw edri::ConfigError("port", "port must be 0-65535");
    if (threads_ < 1 || threads_ > 64) throw edri::ConfigError("threads", "threads must be 1-64");
    if (timeout_.count() < 1) throw edri::ConfigError("timeout_ms", "timeout_ms must be at least 1");
    limits_.body_bytes = static_cast<std::size_t>(at_least(config, "body_limit_bytes", 1));
    limits_.idle_timeout = std::chrono::milliseconds(at_least(config, "idle_timeout_ms", 1));
    limits_.max_connections = static_cast<std::size_t>(at_least(config, "max_connections", 1));
    limits_.max_connections_per_address =
        static_cast<std::size_t>(at_least(config, "max_connections_per_address", 1));
    limits_.header_timeout = std::chrono::milliseconds(at_least(config, "header_timeout_ms", 1));
    limits_.ws_buffer_bytes = static_cast<std::size_t>(at_least(config, "ws_buffer_bytes", 1024));
    ws_path_ = config.get<std::string>("websocket_path");
    load_routes(config.get<json>("routes"));
    load_expose(config.get<json>("expose"));
    for (const auto& m : config.get<std::vector<std::string>>("middlewares")) {
      if (!edri::is_valid_type_name(m)) throw edri::ConfigError("middlewares", "invalid event type '" + m + "'");
      middlewares_.push_back(m);
    }
    for (const auto& m : config.get<std::vector<std::string>>("response_middlewares")) {
      if (!edri::is_valid_type_name(m)) {
        throw edri::ConfigError("response_middlewares", "invalid event type '" + m + "'");
      }
      response_middlewares_.push_back(m);
    }
  }

  void start() override {
    server_ = std::make_unique<edri_api::HttpServer>(
        limits_,
        [this](Request&& req, edri_api::HttpServer::Reply reply, std::shared_ptr<edri_api::ClientWatch> watch) {
          handle(std::move(req), std::move(reply), std::move(watch));
        },
        [this](unsigned status) { count(status); });
    if (!ws_path_.empty()) {
      // An upgrade that is refused here goes on as a plain request, whose
      // handler answers why (403, 401).
      server_->websocket(ws_path_, {[this](const Request& req) {
                                      return cross_site_refusal(req).empty() && (!tokens_.enabled() || authorised(req));
                                    },
                                    [this](const auto& c, const Request& req) { ws_open(c, req); },
                                    [this](const auto& c, std::string text) { ws_message(c, std::move(text)); },
                                    [this](const edri_api::WsConnection& c) { ws_closed(c.id()); }});
    }
    server_->error_log([this](const std::string& what) { log().error(what); });
    if (tls_) server_->tls(tls_);
    // nginx's 499: the client closed its connection before its answer came.
    server_->on_client_gone([this] { count(499); });
    server_->start(bind_, static_cast<std::uint16_t>(port_), static_cast<int>(threads_));
    log().info("listening on ", tls_ ? "https" : "http", "://", bind_, ":", server_->port());
  }

  void stop() override {
    if (server_) server_->stop();
    // Sessions must go while the server's io_context still exists.
    std::lock_guard lock(ws_mutex_);
    clients_.clear();
  }

  ~ApiManager() override { stop(); }

 private:
  static std::int64_t at_least(const edri::Config& c, const char* key, std::int64_t min) {
    const auto v = c.get<std::int64_t>(key);
    if (v < min) throw edri::ConfigError(key, std::string(key) + " must be at least " + std::to_string(min));
    return v;
  }

  // Loaded when the config is read, so a file that does not load is an
  // error at its line.
  static std::shared_ptr<boost::asio::ssl::context> load_tls(const edri::Config& config) {
    const auto cert = config.get<std::string>("tls_cert");
    const auto key = config.get<std::string>("tls_key");
    if (cert.empty() && key.empty()) return nullptr;
    if (cert.empty() || key.empty()) {
      throw edri::ConfigError(cert.empty() ? "tls_key" : "tls_cert", "tls_cert and tls_key go together");
    }
    try {
      return edri_api::make_server_tls(cert, key);
    } catch (const std::runtime_error& e) {
      throw edri::ConfigError(std::string(e.what()).find("private key") != std::string::npos ? "tls_key" : "tls_cert",
                              e.what());
    }
  }

  static edri_api::TokenFile read_tokens(const std::string& file) {
    try {
      return edri_api::TokenFile(file);
    } catch (const std::runtime_error& e) {
      throw edri::ConfigError("tokens_file", e.what());
    }
  }

  void load_expose(const json& expose) {
    auto list = [](const json& j, const std::string& key) {
      if (!j.is_array()) throw edri::ConfigError("expose", key + " must be a list of type patterns");
      std::vector<std::string> out;
      for (const auto& p : j) {
        if (!p.is_string()) throw edri::ConfigError("expose", key + " must be a list of type patterns");
        out.push_back(p.get<std::string>());
      }
      return out;
    };
    try {
      if (expose.is_object()) {
        for (const auto& [k, v] : expose.items()) {
          if (k != "publish" && k != "subscribe") {
            throw edri::ConfigError("expose", "unknown key '" + k + "' in expose (expected publish, subscribe)");
          }
        }
        publish_ = edri_api::ExposePolicy(list(expose.value("publish", json::array()), "expose.publish"));
        subscribe_ = edri_api::ExposePolicy(list(expose.value("subscribe", json::array()), "expose.subscribe"));
      } else {
        publish_ = subscribe_ = edri_api::ExposePolicy(list(expose, "expose"));
      }
    } catch (const std::invalid_argument& e) {
      throw edri::ConfigError("expose", std::string("expose: ") + e.what());
    }
  }

  // Empty when the request's Host, Origin and Sec-Fetch-Site let it in.
  std::string cross_site_refusal(const Request& req) const {
    return guard_.check(req[http::field::host], req[http::field::origin], req["Sec-Fetch-Site"]);
  }

  void load_routes(const json& routes) {
    if (!routes.is_array()) throw edri::ConfigError("routes", "routes must be a list");
    for (std::size_t i = 0; i < routes.size(); ++i) {
      const auto& r = routes[i];
      const std::string where = "routes[" + std::to_string(i) + "]: ";
      if (!r.is_object() || !r.contains("path") || !r.contains("event") || !r["path"].is_string() ||
          !r["event"].is_string()) {
        throw edri::ConfigError("routes", where + "needs 'path' and 'event' strings");
      }
      for (const auto& [k, v] : r.items()) {
        if (k != "method" && k != "path" && k != "event" && k != "timeout_ms" && k != "query") {
          throw edri::ConfigError("routes", where + "unknown key '" + k + "'");
        }
      }
      edri_api::Route route;
      route.method = r.value("method", "GET");
      for (auto& c : route.method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      route.path = r["path"];
      route.event = r["event"];
      route.timeout = std::chrono::milliseconds(r.value("timeout_ms", std::int64_t{0}));
      const json query = r.value("query", json::object());
      if (!query.is_object()) throw edri::ConfigError("routes", where + "query must map names to types");
      for (const auto& [name, type] : query.items()) {
        const auto t = type.is_string() ? edri_api::param_type_named(type.get<std::string>()) : std::nullopt;
        if (!t) {
          throw edri::ConfigError("routes", where + "query parameter '" + name + "': type must be str, int, number or bool");
        }
        route.query[name] = *t;
      }
      try {
        routes_.add(std::move(route));
      } catch (const std::invalid_argument& e) {
        throw edri::ConfigError("routes", where + e.what());
      }
    }
  }

  // A page can send these as fast as it likes: at most one line a second,
  // with how many were not logged (all are counted in /metrics by status).
  void log_refusal(const std::string& method, const std::string& path, const std::string& why) {
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now().time_since_epoch())
                         .count();
    auto last = last_refusal_log_ms_.load(std::memory_order_relaxed);
    if (now - last < 1000 || !last_refusal_log_ms_.compare_exchange_strong(last, now)) {
      refusals_unlogged_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    log().warn("refused ", method, " ", path, ": ", why, " (", refusals_unlogged_.exchange(0),
               " more refused since the last line)");
  }

  void count(unsigned status) {
    std::lock_guard lock(counts_mutex_);
    ++counts_[status];
  }

  void handle(Request&& req, edri_api::HttpServer::Reply reply, std::shared_ptr<edri_api::ClientWatch> watch) {
    // The call's trace: the client's W3C traceparent, or a new one. Every
    // event sent for it carries it through every hop and process, and every
    // answer names it, so the request can be found in the logs.
    const edri_id128 trace = trace_of(req);
    // A page on an allowed origin may read every answer (CORS).
    std::string cors_origin(req[http::field::origin]);
    if (!guard_.listed(cors_origin)) cors_origin.clear();
    // Every answer is counted by status on its way out.
    auto answer = [this, trace, cors_origin = std::move(cors_origin), reply = std::move(reply)](Response res) {
      count(res.result_int());
      if (!cors_origin.empty()) {
        for (const auto& [k, v] : cors_.response_headers(cors_origin)) res.set(k, v);
      }
      const std::string id = edri::to_hex(trace);
      res.set("traceparent", "00-" + id + "-" + id.substr(16) + "-01");
      res.set("x-trace-id", id);
      reply(std::move(res));
    };
    try {
      route(std::move(req), trace, std::move(watch), answer);
    } catch (const std::exception& e) {
      log().error("http handler failed: ", e.what());
      answer(problem(500, e.what()));
    }
  }

  template <class Answer>
  void route(Request&& req, const edri_id128& trace, std::shared_ptr<edri_api::ClientWatch> watch, Answer& answer) {
    const std::string target(req.target());
    const auto q = target.find('?');
    const std::string path = target.substr(0, q);
    const auto query = edri_api::parse_query(q == std::string::npos ? "" : target.substr(q + 1));
    const std::string method(req.method_string());
    // Decoded path and query end up in JSON strings: they must be text.
    for (const auto& [k, v] : query) {
      if (!edri_api::valid_utf8(k) || !edri_api::valid_utf8(v)) {
        return answer(problem(400, "the query string does not decode to UTF-8 text"));
      }
    }
    if (!edri_api::valid_utf8(edri_api::url_decode(path))) {
      return answer(problem(400, "the path does not decode to UTF-8 text"));
    }

    if (auto why = cross_site_refusal(req); !why.empty()) {
      log_refusal(method, path, why);
      return answer(problem(403, why));
    }
    // Before the token check: a browser's preflight never carries one.
    if (method == "OPTIONS") return answer(options(req, path));
    const bool health = path == "/healthz" && method == "GET";
    if (tokens_.enabled() && !health && !authorised(req)) {
      Response res = problem(401, "missing or unknown bearer token");
      res.set(http::field::www_authenticate, "Bearer");
      return answer(std::move(res));
    }
    if (health) return answer(make(200, R"({"status":"ok"})"));
    if (path == "/stats" && method == "GET") return answer(make(200, ctx().router_stats().dump(-1, ' ', false, kLossy)));
    if (path == "/openapi.json" && method == "GET") {
      return answer(make(200, edri_api::openapi_document(routes_, tokens_.enabled()).dump(-1, ' ', false, kLossy)));
    }
    if (path == "/metrics" && method == "GET") {
      std::map<unsigned, std::uint64_t> counts;
      {
        std::lock_guard lock(counts_mutex_);
        counts = counts_;
      }
      // The router's families come ready from edrid; this manager adds its own.
      std::string text = ctx().router_metrics();
      text += "# HELP edri_http_requests_total HTTP requests answered by the api manager, by status.\n"
              "# TYPE edri_http_requests_total counter\n";
      for (const auto& [status, n] : counts) {
        text += "edri_http_requests_total{code=\"" + std::to_string(status) + "\"} " + std::to_string(n) + "\n";
      }
      return answer(make(200, text, "text/plain; version=0.0.4; charset=utf-8"));
    }

    json body = json::object();
    if (!req.body().empty()) {
      // A JSON body must say so: text/plain and form types are what a
      // foreign page can send without asking the browser first.
      if (!is_json_media_type(req[http::field::content_type])) {
        return answer(problem(415, "a request body must be sent as Content-Type: application/json"));
      }
      try {
        body = edri::parse_json(req.body(), json_depth_);
      } catch (const std::exception& e) {
        return answer(problem(400, std::string("malformed JSON body: ") + e.what()));
      }
    }
    static const std::string kEvents = "/events/";
    if (path.rfind(kEvents, 0) == 0 && path.size() > kEvents.size()) {
      if (method != "POST") return answer(problem(405, "use POST for /events/{type}"));
      const std::string type = edri_api::url_decode(path.substr(kEvents.size()));
      const auto kind = query.count("kind") ? query.at("kind") : "request";
      // Checked here: the router would refuse it too, but only after
      // answering the request through the callback.
      if (!edri::is_valid_type_name(type)) return answer(problem(400, "invalid event type '" + type + "'"));
      if (!publish_.allows(type)) return answer(problem(403, "event type '" + type + "' is not exposed (see expose)"));
      if (tokens_.enabled()) {
        if (auto scope = token(req).scope; scope && !scope->allows(type)) {
          return answer(problem(403, "this token may not reach event type '" + type + "'"));
        }
      }
      if (kind != "request" && kind != "notification") {
        return answer(problem(400, "kind must be request or notification"));
      }
      Call call{"http", method, path, headers_of(req), type, std::move(body), trace, std::move(watch)};
      // ?timeout_ms= overrides the default for this one request.
      auto timeout = timeout_;
      if (query.count("timeout_ms")) {
        const std::string& text = query.at("timeout_ms");
        std::int64_t ms = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
        if (ec != std::errc() || end != text.data() + text.size() || ms < 1 || ms > max_timeout_) {
          return answer(problem(400, "timeout_ms must be an integer from 1 to " + std::to_string(max_timeout_)));
        }
        timeout = std::chrono::milliseconds(ms);
      }
      // ?priority= for a receiver with a priority queue (lower is sooner).
      if (query.count("priority")) {
        const std::string& text = query.at("priority");
        int p = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), p);
        if (ec != std::errc() || end != text.data() + text.size() || p < -edri_api::kMaxClientPriority ||
            p > edri_api::kMaxClientPriority) {
          return answer(problem(400, "priority must be an integer from " + std::to_string(-edri_api::kMaxClientPriority) +
                                         " to " + std::to_string(edri_api::kMaxClientPriority)));
        }
        call.priority = p;
      }
      // Idempotency-Key (the IETF httpapi draft's header): a receiver with
      // dedupe_ms does the work of one key once.
      if (const auto it = req.find("idempotency-key"); it != req.end()) {
        if (it->value().empty() || it->value().size() > 255) {
          return answer(problem(400, "Idempotency-Key must be 1 to 255 bytes"));
        }
        call.dedupe_key = std::string(it->value());
      }
      return through_middlewares(std::move(call), 0, [this, kind, timeout, answer](Call c) mutable {
        if (kind == "notification") {
          auto data = std::make_shared<json>(std::move(c.data));
          return send_patiently(
              [this, type = c.type, data, answer, trace = c.trace, priority = c.priority, key = c.dedupe_key]() mutable {
                std::uint32_t delivered = 0;
                if (ctx().try_notify(type, *data, &delivered,
                                     {.priority = priority, .trace_id = trace, .dedupe_key = key}) ==
                    edri::SendResult::would_wait) {
                  return false;
                }
                answer(make(202, json{{"delivered", delivered}}.dump(-1, ' ', false, kLossy)));
                return true;
              },
              [answer]() mutable { answer(busy()); }, timeout);
        }
        send(c, timeout, answer);
      }, answer);
    }
    auto m = routes_.match(method, path);
    if (!m) {
      if (routes_.path_known(path)) return answer(problem(405, "method " + method + " not allowed for " + path));
      return answer(problem(404, "no route for " + method + " " + path));
    }
    json data = body.is_object() ? std::move(body) : json{{"body", std::move(body)}};
    for (const auto& [k, v] : query) {
      const auto t = m->route->query.find(k);
      if (t == m->route->query.end()) {
        data[k] = v;
      } else if (auto typed = edri_api::typed_param(t->second, v)) {
        data[k] = std::move(*typed);
      } else {
        return answer(bad_parameter("query", k, t->second, v));
      }
    }
    for (const auto& [k, v] : m->params) {
      const auto type = m->types.at(k);
      auto typed = edri_api::typed_param(type, v);
      if (!typed) return answer(bad_parameter("path", k, type, v));
      data[k] = std::move(*typed);
    }
    const auto timeout = m->route->timeout.count() > 0 ? m->route->timeout : timeout_;
    Call call{"http", method, path, headers_of(req), m->route->event, std::move(data), trace, std::move(watch)};
    through_middlewares(std::move(call), 0, [this, timeout, answer](Call c) mutable { send(c, timeout, answer); },
                        answer);
  }

  // ---- Middlewares: each is asked, in order, about the incoming call and
  // answers {action: continue} | {action: stop, status, body} |
  // {action: replace, type?, data?}.
  struct Call {
    std::string transport;  // http or ws
    std::string method;
    std::string path;
    json headers;
    std::string type;
    json data;
    edri_id128 trace{0, 0};  // zero: the router picks one
    // The HTTP client, to cancel the call's request when it leaves (null
    // for WebSocket).
    std::shared_ptr<edri_api::ClientWatch> watch;
    std::optional<int> priority;  // ?priority= or a frame's "priority": lower is sooner
    std::string dedupe_key;  // the Idempotency-Key header: the same work as an earlier call with it
  };

  // W3C Trace Context: "00-<32 hex trace id>-<16 hex parent id>-<2 hex
  // flags>". One that does not parse is ignored (a new trace starts), as the
  // recommendation says; it is never an error.
  static edri_id128 trace_of(const Request& req) {
    const auto it = req.find("traceparent");
    if (it != req.end()) {
      const std::string_view v = it->value();
      if (v.size() >= 55 && v.substr(0, 2) != "ff" && v[2] == '-' && v[35] == '-' && v[52] == '-' &&
          (v.substr(0, 2) != "00" || v.size() == 55) && v.substr(36, 16) != "0000000000000000") {
        if (auto id = edri::parse_trace_id(v.substr(3, 32))) return *id;
      }
    }
    thread_local std::mt19937_64 rng{std::random_device{}()};
    edri_id128 id{0, 0};
    while (id.hi == 0 && id.lo == 0) id = edri_id128{rng(), rng()};
    return id;
  }

  static json headers_of(const Request& req) {
    json h = json::object();
    for (const auto& f : req) h[std::string(f.name_string())] = std::string(f.value());
    return h;
  }

  template <class Next, class Answer>
  void through_middlewares(Call call, std::size_t i, Next next, Answer answer) {
    if (i == middlewares_.size()) return next(std::move(call));
    const std::string mw = middlewares_[i];
    json ask{{"transport", call.transport}, {"method", call.method}, {"path", call.path},
             {"headers", call.headers}, {"type", call.type}, {"data", call.data}};
    const edri_id128 call_trace = call.trace;
    auto watch = call.watch;
    auto on_answer = [this, call = std::move(call), i, next, answer, mw](const edri::Response<json>& r) mutable {
      if (r.status() == edri::Status::cancelled) return;  // the client left: nobody to answer
      if (!r.ok() || !r.data() || !r.data()->is_object()) {
        log().warn("middleware ", mw, " failed: ", edri::to_string(r.status()), " ", r.message());
        return answer(problem(502, "middleware " + mw + " failed: " + std::string(edri::to_string(r.status()))));
      }
      const json& d = *r.data();
      const auto action_it = d.find("action");
      const std::string action =
          action_it == d.end() ? "continue" : action_it->is_string() ? action_it->get<std::string>() : "";
      if (action == "stop") {
        const auto st = d.find("status");
        const unsigned status = st == d.end() ? 403u
                                : st->is_number_unsigned() && st->get<unsigned>() >= 100 && st->get<unsigned>() <= 599
                                    ? st->get<unsigned>()
                                    : 500u;
        return answer(make(status, d.value("body", json::object()).dump(-1, ' ', false, kLossy)));
      }
      if (action == "replace") {
        if (d.contains("type") && d["type"].is_string()) call.type = d["type"];
        if (d.contains("data")) call.data = d["data"];
      } else if (action != "continue") {
        return answer(problem(502, "middleware " + mw + " answered unknown action '" + action + "'"));
      }
      through_middlewares(std::move(call), i + 1, next, answer);
    };
    send_patiently(
        [this, mw, ask = std::move(ask), on_answer = std::move(on_answer), trace = call_trace, watch]() mutable {
          return send_for(watch, [&](edri::RequestId* id) {
            return ctx().try_request(mw, ask, on_answer, {.timeout = timeout_, .trace_id = trace}, id);
          });
        },
        [answer]() mutable { answer(busy()); }, timeout_);
  }

  // Each response middleware in turn sees the answer about to be sent and
  // may let it go ({"action": "continue"}) or replace it ({"action":
  // "replace", "response": {status, headers, cookies, content_type, body}},
  // checked like a handler's "$http"). Failing, or a malformed
  // replacement, is a 502.
  template <class Answer>
  void through_response_middlewares(const json& call, const edri_id128& trace, Response res, std::size_t i,
                                    Answer answer) {
    if (i == response_middlewares_.size()) return answer(std::move(res));
    const std::string mw = response_middlewares_[i];
    json headers = json::object();
    for (const auto& f : res) headers[std::string(f.name_string())] = std::string(f.value());
    json body;
    const bool is_json = is_json_media_type(res[http::field::content_type]);
    try {
      body = is_json && !res.body().empty() ? json::parse(res.body()) : json(res.body());
    } catch (const json::exception&) {
      body = res.body();  // not the JSON it says it is: shown as text
    }
    json ask = call;
    ask["response"] = {{"status", res.result_int()}, {"headers", std::move(headers)}, {"body", std::move(body)}};
    auto shared_res = std::make_shared<Response>(std::move(res));
    auto first = std::make_shared<bool>(true);  // several responders: the first decides
    auto on_answer = [this, call, trace, shared_res, first, i, answer, mw](const edri::Response<json>& r) mutable {
      if (!std::exchange(*first, false)) return;
      if (!r.ok() || !r.data() || !r.data()->is_object()) {
        log().warn("response middleware ", mw, " failed: ", edri::to_string(r.status()), " ", r.message());
        return answer(problem(502, "response middleware " + mw + " failed: " + std::string(edri::to_string(r.status()))));
      }
      const json& d = *r.data();
      const auto action_it = d.find("action");
      const std::string action =
          action_it == d.end() ? "continue" : action_it->is_string() ? action_it->get<std::string>() : "";
      if (action == "replace") {
        if (!d.contains("response") || !d["response"].is_object()) {
          return answer(problem(502, "response middleware " + mw + " replaced the answer without a response object"));
        }
        json chosen{{"$http", d["response"]}};
        auto replaced = edri_api::http_answer_of(chosen);
        if (auto* why = std::get_if<std::string>(&replaced)) {
          log().warn("response middleware ", mw, " replaced an answer with one that cannot be sent: ", *why);
          return answer(problem(502, "response middleware " + mw + " answered malformed: " + *why));
        }
        auto& a = std::get<edri_api::HttpAnswer>(replaced);
        Response next = make(a.status, std::move(a.body), a.content_type.c_str());
        for (auto& [k, v] : a.headers) next.insert(k, v);
        return through_response_middlewares(call, trace, std::move(next), i + 1, answer);
      }
      if (action != "continue") {
        return answer(problem(502, "response middleware " + mw + " answered unknown action '" + action + "'"));
      }
      through_response_middlewares(call, trace, std::move(*shared_res), i + 1, answer);
    };
    send_patiently(
        [this, mw, ask = std::move(ask), on_answer = std::move(on_answer), trace]() mutable {
          return ctx().try_request(mw, ask, on_answer, {.timeout = timeout_, .trace_id = trace}) ==
                 edri::SendResult::sent;
        },
        [answer]() mutable { answer(busy()); }, timeout_);
  }

  // The api never waits for room on its own threads (the HTTP I/O threads,
  // its dispatch loop): one receiver whose queue is full (when_full: block)
  // or a congested link must not stall every client. A send that would
  // wait is tried again on a timer, backing off from 1 ms to 64 ms, until
  // `within` has passed; only its own client waits meanwhile. Then
  // give_up() answers 503. attempt() returns true once sent.
  template <class Attempt, class GiveUp>
  void send_patiently(Attempt attempt, GiveUp give_up, std::chrono::milliseconds within) {
    if (attempt()) return;
    retry_later(std::move(attempt), std::move(give_up), std::chrono::steady_clock::now() + within,
                std::chrono::milliseconds(1));
  }

  template <class Attempt, class GiveUp>
  void retry_later(Attempt attempt, GiveUp give_up, std::chrono::steady_clock::time_point deadline,
                   std::chrono::milliseconds backoff) {
    if (std::chrono::steady_clock::now() + backoff >= deadline) return give_up();
    auto state = std::make_shared<std::pair<Attempt, GiveUp>>(std::move(attempt), std::move(give_up));
    ctx().after(backoff, [this, state, deadline, backoff] {
      if (state->first()) return;
      retry_later(std::move(state->first), std::move(state->second), deadline,
                  std::min(backoff * 2, std::chrono::milliseconds(64)));
    });
  }

  // The answer a handler chose with "$http"; 502 when it is not one HTTP
  // can carry (the handler's fault, so logged here).
  Response chosen_answer(const json& data, std::string_view responder) {
    auto chosen = edri_api::http_answer_of(data);
    if (auto* why = std::get_if<std::string>(&chosen)) {
      log().warn("manager ", responder, " chose an HTTP answer that cannot be sent: ", *why);
      return problem(502, "the handler's HTTP answer is malformed: " + *why);
    }
    auto& a = std::get<edri_api::HttpAnswer>(chosen);
    Response res = make(a.status, std::move(a.body), a.content_type.c_str());
    for (auto& [k, v] : a.headers) res.insert(k, v);
    return res;
  }

  // OPTIONS: the methods a path takes, and a browser's CORS preflight.
  Response options(const Request& req, const std::string& path) const {
    std::vector<std::string> methods = routes_.methods_for(path);
    if (path == "/healthz" || path == "/stats" || path == "/metrics" || path == "/openapi.json" ||
        (!ws_path_.empty() && path == ws_path_)) {
      methods = {"GET"};
    } else if (path.rfind("/events/", 0) == 0 && path.size() > 8) {
      methods = {"POST"};
    }
    if (methods.empty()) return problem(404, "no route for " + path);
    const std::string origin(req[http::field::origin]);
    const auto asked = req[http::field::access_control_request_method];
    if (asked.empty() || !guard_.listed(origin)) {
      Response res = make(204, "");
      res.erase(http::field::content_type);
      std::string allow = "OPTIONS";
      for (const auto& m : methods) allow += ", " + m;
      res.set(http::field::allow, allow);
      return res;
    }
    auto pre = cors_.preflight(origin, asked, req[http::field::access_control_request_headers], methods);
    if (!pre.refusal.empty()) return problem(403, "CORS preflight refused: " + pre.refusal);
    Response res = make(204, "");
    res.erase(http::field::content_type);
    for (const auto& [k, v] : pre.headers) res.set(k, v);
    return res;
  }

  static Response busy() {
    return make(503, json{{"status", "rejected"},
                          {"message", "the receiver's queue stayed full (or its link congested) until the timeout"}}
                         .dump());
  }

  // One attempt at a request for an HTTP client (see send_patiently): once
  // sent, the client's leaving cancels it, so a responder that has not
  // started on it skips it. A client gone already needs no more attempts.
  template <class TryRequest>
  bool send_for(const std::shared_ptr<edri_api::ClientWatch>& watch, TryRequest try_request) {
    if (watch && watch->left()) return true;
    edri::RequestId id{0, 0};
    if (try_request(&id) != edri::SendResult::sent) return false;
    if (watch) watch->on_leave([this, id] { ctx().cancel_request(id); });
    return true;
  }

  template <class Answer>
  void send(Call& c, std::chrono::milliseconds timeout, Answer& answer_directly) {
    // With response middlewares, the answer goes past them first.
    std::function<void(Response)> answer = answer_directly;
    if (!response_middlewares_.empty()) {
      json call{{"transport", c.transport}, {"method", c.method}, {"path", c.path},
                {"headers", c.headers}, {"type", c.type}, {"data", c.data}};
      answer = [this, call = std::move(call), trace = c.trace, answer_directly](Response res) mutable {
        through_response_middlewares(call, trace, std::move(res), 0, answer_directly);
      };
    }
    auto on_answer = [this, answer](const edri::Response<json>& r) mutable {
      if (r.status() == edri::Status::cancelled) return;  // the client left: nobody to answer
      if (r.ok() && r.data() && edri_api::wants_http_answer(*r.data())) {
        answer(chosen_answer(*r.data(), r.info().sender()));
      } else if (r.ok()) {
        answer(make(200, r.data() ? r.data()->dump(-1, ' ', false, kLossy) : "null"));
      } else {
        answer(make(http_status(r.status()),
                    json{{"status", edri::to_string(r.status())}, {"message", r.message()}}.dump(-1, ' ', false, kLossy)));
      }
    };
    send_patiently(
        [this, type = std::move(c.type), data = std::move(c.data), on_answer, timeout, trace = c.trace,
         watch = c.watch, priority = c.priority, key = std::move(c.dedupe_key)]() mutable {
          return send_for(watch, [&](edri::RequestId* id) {
            return ctx().try_request(type, data, on_answer,
                                     {.priority = priority, .timeout = timeout, .trace_id = trace, .dedupe_key = key},
                                     id);
          });
        },
        [answer]() mutable { answer(busy()); }, timeout);
  }

  // ---- WebSocket: {"op": "send"|"request"|"subscribe"|"unsubscribe", "type", "data", "id", "where"}
  // (ws_frame.hpp reads and checks each frame).
  struct Subscription {
    std::string pattern;
    json where;  // object: every field must equal the event's
  };
  struct WsClient {
    std::shared_ptr<edri_api::WsConnection> conn;
    std::map<std::string, Subscription> subs;  // by subscription id
    std::shared_ptr<const edri_api::ExposePolicy> scope;  // the token's patterns; null: not limited
    std::shared_ptr<edri_api::WsRequests> requests;
  };

  // A client keeps the scope its token had at the upgrade.
  void ws_open(const std::shared_ptr<edri_api::WsConnection>& c, const Request& req) {
    auto scope = tokens_.enabled() ? token(req).scope : nullptr;
    std::lock_guard lock(ws_mutex_);
    clients_[c->id()] = WsClient{c, {}, std::move(scope), std::make_shared<edri_api::WsRequests>(ws_max_in_flight_)};
  }

  std::shared_ptr<const edri_api::ExposePolicy> scope_of(std::uint64_t client) {
    std::lock_guard lock(ws_mutex_);
    auto it = clients_.find(client);
    return it == clients_.end() ? nullptr : it->second.scope;
  }

  void ws_closed(std::uint64_t id) {
    std::vector<std::string> patterns;
    std::shared_ptr<edri_api::WsRequests> requests;
    {
      std::lock_guard lock(ws_mutex_);
      auto it = clients_.find(id);
      if (it == clients_.end()) return;
      requests = std::move(it->second.requests);
      for (auto& [sid, sub] : it->second.subs) {
        if (--wanted_[sub.pattern] == 0) {
          wanted_.erase(sub.pattern);
          patterns.push_back(sub.pattern);
        }
      }
      clients_.erase(it);
    }
    for (auto& p : patterns) sync(p);
    // Nobody reads their answers now: responders that have not started on
    // them skip them.
    for (const auto& request : requests->close()) ctx().cancel_request(request);
  }

  static void ws_error(edri_api::WsConnection& c, const json& id, const std::string& why, unsigned status = 0) {
    json f{{"op", "error"}, {"id", id}, {"message", why}};
    if (status) f["status"] = status;
    c.send(f.dump(-1, ' ', false, kLossy));
  }

  // Runs on an HTTP I/O thread, for any bytes a client sends: nothing may
  // escape it (an exception here would end the I/O thread and the daemon).
  void ws_message(const std::shared_ptr<edri_api::WsConnection>& c, std::string text) {
    try {
      auto parsed = edri_api::parse_ws_frame(text, json_depth_);
      if (auto* bad = std::get_if<edri_api::WsFrameError>(&parsed)) return ws_error(*c, bad->id, bad->message);
      auto& f = std::get<edri_api::WsFrame>(parsed);
      switch (f.op) {
        case edri_api::WsOp::send:
        case edri_api::WsOp::request: return ws_publish(c, std::move(f));
        case edri_api::WsOp::subscribe: return ws_subscribe(c, std::move(f));
        case edri_api::WsOp::unsubscribe: return ws_unsubscribe(c, f);
      }
    } catch (const std::exception& e) {
      log().error("websocket client ", c->id(), ": frame failed: ", e.what());
      c->close("internal error");
    }
  }

  void ws_publish(const std::shared_ptr<edri_api::WsConnection>& c, edri_api::WsFrame f) {
    if (!publish_.allows(f.type)) {
      return ws_error(*c, f.id, "event type '" + f.type + "' is not exposed (see expose)", 403);
    }
    if (auto scope = scope_of(c->id()); scope && !scope->allows(f.type)) {
      return ws_error(*c, f.id, "this token may not reach event type '" + f.type + "'", 403);
    }
    // A request holds one of the client's places until its last answer.
    std::shared_ptr<edri_api::WsRequests::Place> place;
    if (f.op == edri_api::WsOp::request) {
      std::shared_ptr<edri_api::WsRequests> requests;
      {
        std::lock_guard lock(ws_mutex_);
        auto it = clients_.find(c->id());
        if (it == clients_.end()) return;
        requests = it->second.requests;
      }
      // Refused rather than queued: a client that floods requests must not
      // hold an I/O thread or grow a queue past its bound.
      place = requests->reserve();
      if (!place) {
        return ws_error(*c, f.id, "too many requests in flight (ws_max_in_flight " +
                                      std::to_string(ws_max_in_flight_) + ")", 429);
      }
    }
    // A middleware's stop answer goes back to the client as an error frame.
    // Callbacks hold the connection weakly: one that closed meanwhile is skipped.
    std::weak_ptr<edri_api::WsConnection> weak = c;
    const json id = f.id;
    const auto op = f.op;
    auto refuse = [weak, id, place](Response res) {
      if (auto c = weak.lock()) ws_error(*c, id, res.body(), res.result_int());
    };
    Call call{"ws", op == edri_api::WsOp::send ? "send" : "request", ws_path_, json::object(), std::move(f.type),
              std::move(f.data)};
    call.priority = f.priority;
    through_middlewares(std::move(call), 0, [this, weak, id, op, place](Call call) {
      if (auto c = weak.lock()) ws_deliver(c, id, op, call.type, call.data, place, call.priority);
    }, refuse);
  }

  void ws_deliver(const std::shared_ptr<edri_api::WsConnection>& c, const json& id, edri_api::WsOp op,
                  const std::string& type, const json& data, std::shared_ptr<edri_api::WsRequests::Place> place,
                  std::optional<int> priority) {
    std::weak_ptr<edri_api::WsConnection> weak = c;
    if (op == edri_api::WsOp::send) {
      return send_patiently(
          [this, weak, id, type, data, priority] {
            std::uint32_t delivered = 0;
            if (ctx().try_notify(type, data, &delivered, {.priority = priority}) == edri::SendResult::would_wait) {
              return false;
            }
            if (auto c = weak.lock()) {
              c->send(json{{"op", "sent"}, {"id", id}, {"delivered", delivered}}.dump(-1, ' ', false, kLossy));
            }
            return true;
          },
          [weak, id] {
            if (auto c = weak.lock()) ws_error(*c, id, "the receiver's queue stayed full until the timeout", 503);
          },
          timeout_);
    }
    // Every copy holds the place: it is free once the last answer is in.
    auto on_answer = [weak, id, type, place](const edri::Response<json>& r) {
      auto c = weak.lock();
      if (!c || r.status() == edri::Status::cancelled) return;
      c->send(json{{"op", "response"},
                   {"id", id},
                   {"type", type},
                   {"status", edri::to_string(r.status())},
                   {"message", r.message()},
                   {"trace", r.info().trace_id()},
                   {"data", r.data() ? *r.data() : json()}}
                  .dump(-1, ' ', false, kLossy));
    };
    send_patiently(
        [this, type, data, on_answer, place, priority] {
          edri::RequestId request{0, 0};
          if (ctx().try_request(type, data, on_answer, {.priority = priority, .timeout = timeout_}, &request) !=
              edri::SendResult::sent) {
            return false;
          }
          if (!place->sent(request)) ctx().cancel_request(request);  // the client left meanwhile
          return true;
        },
        [weak, id, type] {
          if (auto c = weak.lock()) {
            c->send(json{{"op", "response"},
                         {"id", id},
                         {"type", type},
                         {"status", "rejected"},
                         {"message", "the receiver's queue stayed full until the timeout"},
                         {"data", nullptr}}
                        .dump(-1, ' ', false, kLossy));
          }
        },
        timeout_);
  }

  void ws_subscribe(const std::shared_ptr<edri_api::WsConnection>& c, edri_api::WsFrame f) {
    if (!subscribe_.allows_pattern(f.type)) {
      return ws_error(*c, f.id, "pattern '" + f.type + "' matches no exposed type (see expose)", 403);
    }
    if (auto scope = scope_of(c->id()); scope && !scope->allows_pattern(f.type)) {
      return ws_error(*c, f.id, "this token may not reach pattern '" + f.type + "'", 403);
    }
    const std::string sid = f.subscription();
    {
      std::lock_guard lock(ws_mutex_);
      auto it = clients_.find(c->id());
      if (it == clients_.end()) return;
      auto& client = it->second;
      if (client.subs.count(sid)) return ws_error(*c, f.id, "subscription '" + sid + "' exists");
      if (client.subs.size() >= ws_max_subscriptions_) {
        return ws_error(*c, f.id, "too many subscriptions (ws_max_subscriptions " +
                                      std::to_string(ws_max_subscriptions_) + ")", 429);
      }
      client.subs[sid] = Subscription{f.type, std::move(f.where)};
      ++wanted_[f.type];
    }
    // Acknowledged once the router delivers the pattern: an event sent
    // after the client saw "subscribed" reaches it.
    const std::string ack = json{{"op", "subscribed"}, {"id", f.id}, {"subscription", sid}}.dump(-1, ' ', false, kLossy);
    sync(f.type, [weak = std::weak_ptr(c), ack] {
      if (auto c = weak.lock()) c->send(ack);
    });
  }

  void ws_unsubscribe(const std::shared_ptr<edri_api::WsConnection>& c, const edri_api::WsFrame& f) {
    const std::string sid = f.subscription();
    std::string pattern;
    {
      std::lock_guard lock(ws_mutex_);
      auto it = clients_.find(c->id());
      if (it == clients_.end()) return;
      auto& subs = it->second.subs;
      auto sub = subs.find(sid);
      if (sub == subs.end()) return ws_error(*c, f.id, "no subscription '" + sid + "'");
      pattern = sub->second.pattern;
      subs.erase(sub);
      if (--wanted_[pattern] == 0) wanted_.erase(pattern);
    }
    const std::string ack = json{{"op", "unsubscribed"}, {"id", f.id}, {"subscription", sid}}.dump(-1, ' ', false, kLossy);
    sync(pattern, [weak = std::weak_ptr(c), ack] {
      if (auto c = weak.lock()) c->send(ack);
    });
  }

  // Makes the router subscription for `pattern` match what clients want,
  // then calls `done`. Runs on this manager's loop, where its handlers are
  // registered.
  // Called from I/O threads; once the manager is stopping no timer starts,
  // and router subscriptions no longer matter.
  void sync(const std::string& pattern, std::function<void()> done = {}) try {
    ctx().after(std::chrono::milliseconds(0), [this, pattern, done = std::move(done)] {
      bool want;
      {
        std::lock_guard lock(ws_mutex_);
        auto it = wanted_.find(pattern);
        want = it != wanted_.end() && it->second > 0;
      }
      const bool have = registered_.count(pattern) > 0;
      if (want && !have) {
        ctx().on_notification(pattern, [this](const edri::GenericEvent& ev) { push(ev); });
        registered_.insert(pattern);
      } else if (!want && have) {
        ctx().unsubscribe(EDRI_KIND_NOTIFICATION, pattern);
        registered_.erase(pattern);
      }
      if (done) done();
    });
  } catch (const std::exception& e) {
    log().info("subscription change for '", pattern, "' not applied: ", e.what());
  }

  // One event reaches this manager once (through its most specific pattern);
  // it goes to every client subscription it matches.
  void push(const edri::GenericEvent& ev) {
    const std::string type(ev.type());
    // A wildcard subscription reaches only the types exposed to clients.
    if (!subscribe_.allows(type)) return;
    const json& data = ev.data();
    std::lock_guard lock(ws_mutex_);
    for (auto& [cid, client] : clients_) {
      if (client.scope && !client.scope->allows(type)) continue;
      for (auto& [sid, sub] : client.subs) {
        if (!edri::matches(sub.pattern, type) || !where_matches(sub.where, data)) continue;
        client.conn->send(json{{"op", "event"}, {"subscription", sid}, {"type", type}, {"data", data}}.dump(-1, ' ', false, kLossy));
      }
    }
  }

  static bool where_matches(const json& where, const json& data) {
    for (const auto& [k, v] : where.items()) {
      if (!data.is_object() || !data.contains(k) || data[k] != v) return false;
    }
    return true;
  }

  static bool is_json_media_type(std::string_view ct) {
    const auto semi = ct.find(';');
    std::string base(ct.substr(0, semi));
    while (!base.empty() && base.back() == ' ') base.pop_back();
    for (auto& ch : base) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return base == "application/json" || (base.rfind("application/", 0) == 0 && base.size() > 5 &&
                                          base.compare(base.size() - 5, 5, "+json") == 0);
  }

  bool authorised(const Request& req) { return token(req).known; }

  // The bearer token's entry (unknown when there is none or it is not listed).
  edri_api::TokenFile::Lookup token(const Request& req) {
    const auto h = req[http::field::authorization];
    // The scheme is case-insensitive (RFC 9110 11.1).
    static constexpr std::string_view kBearer = "bearer ";
    if (h.size() <= kBearer.size()) return {};
    for (std::size_t i = 0; i < kBearer.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(h[i])) != kBearer[i]) return {};
    }
    auto found = tokens_.find(std::string_view(h).substr(kBearer.size()));
    if (auto why = tokens_.take_error(); !why.empty()) log().warn(why, "; keeping the tokens read before");
    return found;
  }

  // First member, so it is destroyed last: everything below may hold sessions
  // that need its io_context.
  std::unique_ptr<edri_api::HttpServer> server_;
  std::string bind_;
  std::int64_t port_;
  std::int64_t threads_;
  std::chrono::milliseconds timeout_;
  std::shared_ptr<boost::asio::ssl::context> tls_;  // null: plain http
  edri_api::CrossSiteGuard guard_;
  edri_api::CorsPolicy cors_;
  std::size_t json_depth_;
  std::int64_t max_timeout_;
  std::size_t ws_max_subscriptions_;
  std::size_t ws_max_in_flight_;
  edri_api::ExposePolicy publish_;
  edri_api::ExposePolicy subscribe_;
  edri_api::TokenFile tokens_;
  edri_api::ServerLimits limits_;

  edri_api::RouteTable routes_;
  std::atomic<std::int64_t> last_refusal_log_ms_{-1000};
  std::atomic<std::uint64_t> refusals_unlogged_{0};
  std::mutex counts_mutex_;
  std::map<unsigned, std::uint64_t> counts_;
  std::vector<std::string> middlewares_;
  std::vector<std::string> response_middlewares_;
  std::string ws_path_;
  std::mutex ws_mutex_;
  std::map<std::uint64_t, WsClient> clients_;
  std::map<std::string, int> wanted_;  // pattern → client subscriptions
  std::set<std::string> registered_;  // patterns subscribed in the router (loop only)
};

}  // namespace

EDRI_PLUGIN(ApiManager, "api", "1.0.0")
