#include "config/env_subst.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>

using edrid::substitute_env;

TEST_CASE("environment variables are substituted") {
  ::setenv("EDRI_TEST_A", "alpha", 1);
  ::unsetenv("EDRI_TEST_UNSET");
  ::setenv("EDRI_TEST_EMPTY", "", 1);
  std::string err;
  CHECK(substitute_env("x-${EDRI_TEST_A}-y", &err) == "x-alpha-y");
  CHECK(substitute_env("${EDRI_TEST_UNSET:-fallback}", &err) == "fallback");
  CHECK(substitute_env("${EDRI_TEST_EMPTY:-fallback}", &err) == "fallback");
  CHECK(substitute_env("${EDRI_TEST_A:-fallback}", &err) == "alpha");
  CHECK(substitute_env("cost $$5 and $HOME", &err) == "cost $5 and $HOME");
  CHECK(substitute_env("plain", &err) == "plain");
}

TEST_CASE("an unset variable without default and broken syntax are errors") {
  ::unsetenv("EDRI_TEST_UNSET");
  std::string err;
  CHECK_FALSE(substitute_env("${EDRI_TEST_UNSET}", &err));
  CHECK_THAT(err, Catch::Contains("EDRI_TEST_UNSET"));
  CHECK_FALSE(substitute_env("${OPEN", &err));
  CHECK_THAT(err, Catch::Contains("unterminated"));
  CHECK_FALSE(substitute_env("${}", &err));
}
