// The hello manager under test, without edrid: edri::testing::TestRouter
// runs it in this process. Any test framework will do; this one needs none.
#include <edri/testing.hpp>

#include <cstdio>

extern "C" const edri_plugin_descriptor* edri_plugin_entry();

int main() {
  edri::testing::TestRouter router;
  router.add("hello", edri_plugin_entry(), {{"salutation", "hi"}}).start();
  auto answer = router.ctx().call("hello.greet", {{"name", "ada"}});
  const bool ok = answer.ok() && (*answer.data())["greeting"] == "hi, ada";
  std::printf("%s\n", ok ? "hello.greet answered 'hi, ada'" : "hello.greet answered wrong");
  return ok ? 0 : 1;
}
