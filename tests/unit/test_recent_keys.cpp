// RecentKeys: membership, the capacity bound, the order keys are forgotten in, and concurrent use.
#include "audit/recent_keys.hpp"

#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

using namespace rollback;

TEST_CASE("remembered keys are found; others are not") {
    RecentKeys keys(4);
    CHECK_FALSE(keys.contains("a"));
    keys.remember("a");
    keys.remember("b");
    CHECK(keys.contains("a"));
    CHECK(keys.contains("b"));
    CHECK_FALSE(keys.contains("c"));
    CHECK_FALSE(keys.contains(""));
    keys.remember("a"); // again: still one entry
    CHECK(keys.size() == 2);
}

TEST_CASE("beyond the capacity the key remembered longest ago is forgotten") {
    RecentKeys keys(3);
    for (const char* key : {"k1", "k2", "k3", "k4"})
        keys.remember(key);
    CHECK(keys.size() == 3);
    CHECK_FALSE(keys.contains("k1"));
    for (const char* key : {"k2", "k3", "k4"})
        CHECK(keys.contains(key));
    // Remembering a key already held does not renew it: k2 is still the oldest.
    keys.remember("k2");
    keys.remember("k5");
    CHECK_FALSE(keys.contains("k2"));
    CHECK(keys.contains("k5"));
}

TEST_CASE("capacity 0 remembers nothing") {
    RecentKeys keys(0);
    keys.remember("a");
    CHECK_FALSE(keys.contains("a"));
    CHECK(keys.size() == 0);
}

TEST_CASE("8 threads remembering and looking up at once keep the bound") {
    RecentKeys keys(100);
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&keys, t] {
            for (int i = 0; i < 2000; ++i) {
                const std::string key = std::to_string(t) + "-" + std::to_string(i);
                keys.remember(key);
                (void)keys.contains(key);
            }
        });
    }
    for (auto& thread : threads)
        thread.join();
    CHECK(keys.size() == 100);
}
