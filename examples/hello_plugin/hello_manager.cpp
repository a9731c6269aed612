// Answers hello.greet {name} with {greeting}.
#include <edri/edri.hpp>

namespace hello {

struct Greeting {
  std::string greeting;
};
EDRI_EVENT(Greeting, "hello.greeting", greeting)

struct Greet {
  using response = Greeting;
  std::string name = "world";
};
EDRI_EVENT(Greet, "hello.greet", name)

class HelloManager : public edri::Manager {
 public:
  static edri::ConfigSchema config_schema() {
    return edri::ConfigSchema{}.field("salutation", edri::FieldType::string, "hello", "the word to greet with");
  }
  HelloManager(edri::Context& ctx, const edri::Config& config)
      : Manager(ctx), salutation_(config.get<std::string>("salutation")) {
    ctx.on_request<Greet>([this](const Greet& g, edri::Reply<Greeting>& reply) {
      reply.set({salutation_ + ", " + g.name});
    });
  }

 private:
  std::string salutation_;
};

}  // namespace hello

EDRI_PLUGIN(hello::HelloManager, "hello", "1.0.0")
