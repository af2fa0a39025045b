# The demo service and the tests of the real stack (included by the top CMakeLists.txt).
#   demo-service     build/bin/demo-service (examples/demo-service/), the stand-in service of the stack
#   stack_config     promtool check config config/prometheus{,-ha}.yml; amtool check-config config/alertmanager{,-ha}.yml
#   compose_config   docker-compose config -q (docker-compose.yml is valid; no Docker engine needed)
#   compose_ha_config  the same for docker-compose.ha.yml (the high-availability stack)
#   e2e_tls          tests/e2e/tls.sh: Alertmanager -> receiver over mutual TLS; rollbackctl over HTTPS
#   stack_e2e        tests/e2e/stack-e2e.sh: Prometheus + Alertmanager + receiver + demo service on
#                    loopback, bad deployments, and what the receiver did about them (under 3 minutes)
#   stack_ha_e2e     tests/e2e/ha-stack.sh: the high-availability stack on loopback (PostgreSQL 15, two
#                    receivers, two clustered Alertmanagers, Prometheus): exactly once, a receiver killed
#                    holding the claim, one receiver down, PostgreSQL restarted (under 2.5 minutes)
# Run them with: ctest -R 'stack|compose|e2e'
# A missing tool makes its test FAIL with an install hint (scripts/install-deps.sh --tests); never a silent
# skip.

# PkgConfig::HTTPLIB and standard_warnings come from the top CMakeLists.txt.
add_executable(demo-service ${CMAKE_SOURCE_DIR}/examples/demo-service/main.cpp)
target_link_libraries(demo-service PRIVATE standard_warnings Threads::Threads PkgConfig::HTTPLIB)

find_program(STACK_PROMTOOL promtool DOC "promtool from the Debian package prometheus")
find_program(STACK_AMTOOL amtool DOC "amtool from the Debian package prometheus-alertmanager")
find_program(STACK_DOCKER_COMPOSE docker-compose DOC "docker-compose from the Debian package docker-compose")

macro(stack_missing_tool test_name what)
  add_test(NAME ${test_name}
           COMMAND sh -c "echo '${what} missing: run scripts/install-deps.sh --tests'; exit 1")
endmacro()

if(STACK_PROMTOOL AND STACK_AMTOOL)
  add_test(NAME stack_config
           COMMAND sh -c "'${STACK_PROMTOOL}' check config config/prometheus.yml config/prometheus-ha.yml && '${STACK_AMTOOL}' check-config config/alertmanager.yml config/alertmanager-ha.yml"
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(stack_config PROPERTIES TIMEOUT 60)
else()
  stack_missing_tool(stack_config "promtool or amtool")
endif()

if(STACK_DOCKER_COMPOSE)
  # --project-directory keeps the check independent of where ctest runs; no engine is contacted.
  add_test(NAME compose_config
           COMMAND ${STACK_DOCKER_COMPOSE} --project-directory ${CMAKE_SOURCE_DIR}
                   -f ${CMAKE_SOURCE_DIR}/docker-compose.yml config -q
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(compose_config PROPERTIES TIMEOUT 60)
  add_test(NAME compose_ha_config
           COMMAND ${STACK_DOCKER_COMPOSE} --project-directory ${CMAKE_SOURCE_DIR}
                   -f ${CMAKE_SOURCE_DIR}/docker-compose.ha.yml config -q
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(compose_ha_config PROPERTIES TIMEOUT 60)
else()
  stack_missing_tool(compose_config "docker-compose")
  stack_missing_tool(compose_ha_config "docker-compose")
endif()

add_test(NAME stack_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/stack-e2e.sh
         WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
# RUN_SERIAL: the test measures seconds-scale behaviour of four processes; on a 2-core CI machine it
# must not share the CPU with the unit tests. The script bounds itself (170 s) below this timeout.
set_tests_properties(stack_e2e PROPERTIES TIMEOUT 200 RUN_SERIAL TRUE
                     ENVIRONMENT "ROLLBACK_BINARY_DIR=${CMAKE_BINARY_DIR}")

add_test(NAME stack_ha_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/ha-stack.sh
         WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
# RUN_SERIAL for the same reason as stack_e2e (nine processes, seconds-scale timings); the script bounds
# itself (150 s; a run takes about 50 s) below this timeout. As root (CI) it runs PostgreSQL as the
# system user postgres.
set_tests_properties(stack_ha_e2e PROPERTIES TIMEOUT 180 RUN_SERIAL TRUE
                     ENVIRONMENT "ROLLBACK_BINARY_DIR=${CMAKE_BINARY_DIR}")

# Alertmanager 0.25 delivering to the receiver over HTTPS with a client certificate (mutual TLS), and
# rollbackctl over HTTPS, with throwaway certificates; also run under the sanitizers (it drives the
# daemon's TLS code).
add_test(NAME e2e_tls COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/tls.sh WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(e2e_tls PROPERTIES TIMEOUT 120
                     ENVIRONMENT "ROLLBACK_BINARY_DIR=${CMAKE_BINARY_DIR}")
