# The rollbackctl binary (build/bin/rollbackctl): a thin main over run_ctl in receiver_core.
add_executable(rollbackctl receiver/ctl/main.cpp)
target_link_libraries(rollbackctl PRIVATE receiver_core standard_warnings)
# The integration test runs both binaries as child processes: building it builds them.
if(TARGET test_rollbackctl)
  add_dependencies(test_rollbackctl rollbackctl rollback-receiver)
endif()
