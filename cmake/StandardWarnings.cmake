# Warning flags as an interface target; -Werror when ROLLBACK_WERROR is on (CI turns it on).
option(ROLLBACK_WERROR "Treat compiler warnings as errors" OFF)
add_library(standard_warnings INTERFACE)
target_compile_options(standard_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow
                       $<$<BOOL:${ROLLBACK_WERROR}>:-Werror>)
