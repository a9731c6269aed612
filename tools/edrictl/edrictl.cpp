// edrictl: talk to a running edrid through its api manager.
//
//   edrictl [--url http://127.0.0.1:8080] [--token T] COMMAND ...
//     send TYPE [JSON]                 notification; prints {"delivered": N}
//     request TYPE [JSON] [--timeout MS]  prints the response data; exit 1 unless ok
//     tail PATTERN [--where JSON] [--count N]  prints matching notifications, one JSON per line
//     stats                            the router's statistics
//     top [--count N] [--interval MS]  the managers' health, queues, rates and latency, redrawn every MS
//     links                            switch/connector links
//     dead-letters [--count N]         prints edri.dead_letter notifications as they come, one JSON per line
//     reinject [LETTER]                sends a dead letter's payload again as its type and kind
//                                      (LETTER: one line dead-letters printed; default: read from stdin)
//     queue inspect DIR [--count N]    a durable queue's directory on this machine; exit 1 if edrid would refuse it
//     queue aside DIR                  renames it to DIR.aside-<time>, so the manager starts empty
//
// EDRI_URL and EDRI_TOKEN set the defaults for --url and --token.
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include "queue_files.hpp"
#include "top_view.hpp"

#include <chrono>
#include <thread>

#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using nlohmann::json;

constexpr const char* kUsage =
    "usage: edrictl [--url URL] [--token TOKEN] COMMAND\n"
    "  send TYPE [JSON]                      send a notification\n"
    "  request TYPE [JSON] [--timeout MS]    send a request and print the response\n"
    "  tail PATTERN [--where JSON] [--count N]  print matching notifications\n"
    "  stats                                 router statistics\n"
    "  top [--count N] [--interval MS]       a live view of the managers (every second; N screens, 0 = on)\n"
    "  links                                 switch/connector links\n"
    "  dead-letters [--count N]              print dead letters as they come (edri.dead_letter)\n"
    "  reinject [LETTER]                     send a dead letter's payload again (LETTER or stdin)\n"
    "  queue inspect DIR [--count N]         a durable queue's file: records, size, the first N, problems\n"
    "  queue aside DIR                       move a durable queue's directory aside (edrid stopped)\n"
    "URL defaults to $EDRI_URL or http://127.0.0.1:8080; TOKEN to $EDRI_TOKEN.\n";

// A usage or connection problem: message, and the exit code to use.
struct Failure {
  std::string message;
  int code;
};

struct Target {
  std::string host = "127.0.0.1";
  std::string port = "8080";
};

Target parse_url(const std::string& url) {
  std::string rest = url;
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  else if (rest.find("://") != std::string::npos) throw Failure{"only http:// URLs are supported: " + url, 2};
  rest = rest.substr(0, rest.find('/'));
  Target t;
  const auto colon = rest.rfind(':');
  t.host = colon == std::string::npos ? rest : rest.substr(0, colon);
  if (colon != std::string::npos) t.port = rest.substr(colon + 1);
  if (t.host.empty() || t.port.empty()) throw Failure{"bad URL: " + url, 2};
  return t;
}

class Client {
 public:
  Client(Target t, std::string token) : target_(std::move(t)), token_(std::move(token)) {}

  std::pair<unsigned, std::string> call(http::verb method, const std::string& path, const std::string& body = "") {
    beast::tcp_stream stream(ioc_);
    connect(stream);
    http::request<http::string_body> req{method, path, 11};
    req.set(http::field::host, target_.host);
    req.set(http::field::user_agent, "edrictl");
    if (!token_.empty()) req.set(http::field::authorization, "Bearer " + token_);
    if (!body.empty()) req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(stream, buf, res);
    return {res.result_int(), res.body()};
  }

  // Prints every notification matching pattern until `count` (0 = forever).
  // `raw`: print each event's data alone (a dead letter), not {type, data}.
  void tail(const std::string& pattern, const json& where, long count, bool raw = false) {
    beast::websocket::stream<beast::tcp_stream> ws(ioc_);
    connect(beast::get_lowest_layer(ws));
    ws.set_option(beast::websocket::stream_base::decorator([this](beast::websocket::request_type& req) {
      if (!token_.empty()) req.set(http::field::authorization, "Bearer " + token_);
    }));
    try {
      ws.handshake(target_.host + ":" + target_.port, "/ws");
    } catch (const beast::system_error& e) {
      throw Failure{"WebSocket refused by edrid (" + e.code().message() + "); check the token and websocket_path", 1};
    }
    json sub{{"op", "subscribe"}, {"type", pattern}, {"id", "edrictl"}};
    if (!where.is_null()) sub["where"] = where;
    ws.write(asio::buffer(sub.dump()));
    for (long seen = 0; count == 0 || seen < count;) {
      beast::flat_buffer buf;
      ws.read(buf);
      auto f = json::parse(beast::buffers_to_string(buf.data()));
      if (f["op"] == "error") {
        std::string why = "edrid: " + f.value("message", std::string("error"));
        if (raw) why += " (the api must expose '" + pattern + "' to subscribe: expose: {subscribe: [..., " + pattern + "]})";
        throw Failure{why, 1};
      }
      if (f["op"] != "event") continue;
      std::cout << (raw ? f["data"].dump() : json{{"type", f["type"]}, {"data", f["data"]}}.dump()) << std::endl;
      ++seen;
    }
  }

 private:
  void connect(beast::tcp_stream& s) {
    tcp::resolver resolver(ioc_);
    beast::error_code ec;
    auto endpoints = resolver.resolve(target_.host, target_.port, ec);
    if (!ec) s.connect(endpoints, ec);
    if (ec) {
      throw Failure{"cannot reach edrid at " + target_.host + ":" + target_.port + " (" + ec.message() +
                        "); is it running with the api manager?",
                    2};
    }
  }

  asio::io_context ioc_;
  Target target_;
  std::string token_;
};

json parse_json_arg(const std::string& text) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    throw Failure{"not JSON: " + text + " (" + e.what() + ")", 2};
  }
}

int run(std::vector<std::string> args) {
  const char* env_url = std::getenv("EDRI_URL");
  const char* env_token = std::getenv("EDRI_TOKEN");
  std::string url = env_url ? env_url : "http://127.0.0.1:8080";
  std::string token = env_token ? env_token : "";
  std::optional<long> timeout_ms, count, interval_ms;
  json where;
  std::vector<std::string> words;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) throw Failure{a + " needs a value\n" + kUsage, 2};
      return args[++i];
    };
    if (a == "--url") url = value();
    else if (a == "--token") token = value();
    else if (a == "--timeout") timeout_ms = std::stol(value());
    else if (a == "--count") count = std::stol(value());
    else if (a == "--interval") interval_ms = std::stol(value());
    else if (a == "--where") where = parse_json_arg(value());
    else if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return 0;
    } else if (a.rfind("--", 0) == 0) throw Failure{"unknown option " + a + "\n" + kUsage, 2};
    else words.push_back(a);
  }
  if (words.empty()) throw Failure{kUsage, 2};
  if (words[0] == "queue") {
    try {
      return edrictl::queue_command(words, count.value_or(-1));
    } catch (const std::invalid_argument& e) {
      throw Failure{std::string(e.what()) + "\n" + kUsage, 2};
    }
  }
  Client client(parse_url(url), token);
  const std::string& cmd = words[0];
  auto need = [&](std::size_t n) {
    if (words.size() < n || words.size() > n + 1) throw Failure{"wrong arguments for " + cmd + "\n" + kUsage, 2};
  };
  auto print = [](unsigned status, const std::string& body) {
    try {
      std::cout << json::parse(body).dump(2) << "\n";
    } catch (const json::exception&) {
      std::cout << body << "\n";
    }
    return status >= 200 && status < 300 ? 0 : 1;
  };
  if (cmd == "send" || cmd == "request") {
    need(2);
    const json data = words.size() > 2 ? parse_json_arg(words[2]) : json::object();
    std::string path = "/events/" + words[1];
    if (cmd == "send") path += "?kind=notification";
    else if (timeout_ms) path += "?timeout_ms=" + std::to_string(*timeout_ms);
    auto [status, body] = client.call(http::verb::post, path, data.dump());
    return print(status, body);
  }
  if (cmd == "tail") {
    need(2);
    client.tail(words[1], where, count.value_or(0));
    return 0;
  }
  if (cmd == "dead-letters") {
    need(1);
    client.tail("edri.dead_letter", json(), count.value_or(0), true);
    return 0;
  }
  if (cmd == "reinject") {
    if (words.size() > 2) throw Failure{"wrong arguments for reinject\n" + std::string(kUsage), 2};
    std::string text;
    if (words.size() == 2 && words[1] != "-") {
      text = words[1];
    } else {
      std::getline(std::cin, text);
    }
    const json letter = parse_json_arg(text);
    if (!letter.is_object() || !letter.contains("type") || !letter["type"].is_string() || !letter.contains("payload")) {
      throw Failure{"not a dead letter (it needs \"type\" and \"payload\", as dead-letters prints them)", 2};
    }
    const bool request = letter.value("kind", std::string("notification")) == "request";
    std::string path = "/events/" + letter["type"].get<std::string>();
    if (!request) path += "?kind=notification";
    auto [status, body] = client.call(http::verb::post, path, letter["payload"].dump());
    return print(status, body);
  }
  if (cmd == "stats") {
    need(1);
    auto [status, body] = client.call(http::verb::get, "/stats");
    return print(status, body);
  }
  if (cmd == "top") {
    need(1);
    const auto every = std::chrono::milliseconds(std::max(50L, interval_ms.value_or(1000)));
    const bool screen = ::isatty(STDOUT_FILENO) != 0;
    for (long shown = 0; count.value_or(0) == 0 || shown < *count; ++shown) {
      if (shown > 0) std::this_thread::sleep_for(every);
      auto [status, body] = client.call(http::verb::get, "/stats");
      if (status != 200) return print(status, body);
      // On a terminal each screen replaces the last; piped, they follow each other.
      std::cout << (screen ? "\x1b[H\x1b[2J" : shown > 0 ? "\n" : "") << edrictl::render_top(json::parse(body))
                << std::flush;
    }
    return 0;
  }
  if (cmd == "links") {
    need(1);
    auto [status, body] = client.call(http::verb::get, "/stats");
    if (status != 200) return print(status, body);
    const json st = json::parse(body);
    if (!st.contains("links") || st["links"].empty()) {
      std::cout << "no links: router '" << st.value("router", std::string("?"))
                << "' has no switch or connector\n";
      return 0;
    }
    std::cout << st["links"].dump(2) << "\n";
    return 0;
  }
  throw Failure{"unknown command '" + cmd + "'\n" + kUsage, 2};
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const Failure& f) {
    std::cerr << "edrictl: " << f.message << (f.message.back() == '\n' ? "" : "\n");
    return f.code;
  } catch (const std::exception& e) {
    std::cerr << "edrictl: " << e.what() << "\n";
    return 1;
  }
}
