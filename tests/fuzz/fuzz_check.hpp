// fuzz_check: the one assertion the fuzz targets use; it stops the run with a message libFuzzer keeps.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace rollback::fuzz {

// A property that must hold for every input: on failure, print what broke and abort, so that libFuzzer
// saves the input as a crash file (crash-<sha1>) and the run fails.
inline void require(bool holds, std::string_view what, std::string_view detail = {}) {
    if (holds) return;
    std::fprintf(stderr, "fuzz property broken: %.*s\n  %.*s\n", static_cast<int>(what.size()), what.data(),
                 static_cast<int>(detail.size()), detail.data());
    std::abort();
}

} // namespace rollback::fuzz
