// eventually(): a bounded wait until a condition holds, for tests of work done on other threads.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace rollback::testing {

// Checks `done` every 5 ms until it holds (true) or `limit` passed (false).
inline bool eventually(const std::function<bool()>& done,
                       std::chrono::steady_clock::duration limit = std::chrono::seconds(5)) {
    const auto give_up = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > give_up) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

} // namespace rollback::testing
