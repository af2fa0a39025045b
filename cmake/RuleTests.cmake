# CTest tests for the Prometheus rules in rules/ (included by the top CMakeLists.txt).
#   rules_check  promtool check rules rules/*.rules.yml
#   rules_test   promtool test rules rules/tests/*.test.yml
# Run them with: ctest -R rule
# Without promtool both tests FAIL with an install hint; they are never skipped silently.

find_program(PROMTOOL_EXECUTABLE promtool DOC "promtool from the Debian package prometheus")

file(GLOB RULE_FILES CONFIGURE_DEPENDS RELATIVE ${CMAKE_SOURCE_DIR} ${CMAKE_SOURCE_DIR}/rules/*.rules.yml)
file(GLOB RULE_TEST_FILES CONFIGURE_DEPENDS RELATIVE ${CMAKE_SOURCE_DIR}
     ${CMAKE_SOURCE_DIR}/rules/tests/*.test.yml)
list(SORT RULE_FILES)
list(SORT RULE_TEST_FILES)

if(PROMTOOL_EXECUTABLE)
  add_test(NAME rules_check
           COMMAND ${PROMTOOL_EXECUTABLE} check rules ${RULE_FILES}
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  add_test(NAME rules_test
           COMMAND ${PROMTOOL_EXECUTABLE} test rules ${RULE_TEST_FILES}
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(rules_check rules_test PROPERTIES TIMEOUT 300)
else()
  message(WARNING "promtool not found: the rule tests (ctest -R rule) will fail. "
                  "Install the Debian package prometheus.")
  foreach(test_name rules_check rules_test)
    add_test(NAME ${test_name}
             COMMAND sh -c "echo promtool missing: install the Debian package prometheus; exit 1")
  endforeach()
endif()
