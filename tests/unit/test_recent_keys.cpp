// RecentKeys: membership, the byte budget, the order keys are forgotten in, each key kept once, concurrent
// use.
#include "audit/recent_keys.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <thread>
#include <vector>

using namespace rollback;

// This test program's allocations, counted: the bytes live on the heap at any moment (each block carries
// its size in front of it).
namespace {
std::atomic<long long> g_live_bytes{0};
constexpr std::size_t kHeader = alignof(std::max_align_t);

void* counted_allocation(std::size_t size) {
    auto* block = static_cast<unsigned char*>(std::malloc(size + kHeader));
    if (block == nullptr) throw std::bad_alloc();
    *reinterpret_cast<std::size_t*>(block) = size;
    g_live_bytes += static_cast<long long>(size);
    return block + kHeader;
}
void counted_release(void* pointer) noexcept {
    if (pointer == nullptr) return;
    auto* block = static_cast<unsigned char*>(pointer) - kHeader;
    g_live_bytes -= static_cast<long long>(*reinterpret_cast<std::size_t*>(block));
    std::free(block);
}
} // namespace

void* operator new(std::size_t size) {
    return counted_allocation(size);
}
void* operator new[](std::size_t size) {
    return counted_allocation(size);
}
void operator delete(void* pointer) noexcept {
    counted_release(pointer);
}
void operator delete[](void* pointer) noexcept {
    counted_release(pointer);
}
void operator delete(void* pointer, std::size_t) noexcept {
    counted_release(pointer);
}
void operator delete[](void* pointer, std::size_t) noexcept {
    counted_release(pointer);
}

namespace {
// A budget that holds `count` keys of `length` characters.
std::size_t budget_for(std::size_t count, std::size_t length) {
    return count * (length + RecentKeys::kEntryOverhead);
}
} // namespace

TEST_CASE("remembered keys are found; others are not") {
    RecentKeys keys(budget_for(4, 8));
    CHECK_FALSE(keys.contains("a"));
    keys.remember("a");
    keys.remember("b");
    CHECK(keys.contains("a"));
    CHECK(keys.contains("b"));
    CHECK_FALSE(keys.contains("c"));
    CHECK_FALSE(keys.contains(""));
    keys.remember("a"); // again: still one entry
    CHECK(keys.size() == 2);
    CHECK(keys.bytes() == 2 * (1 + RecentKeys::kEntryOverhead));
}

TEST_CASE("beyond the budget the key remembered longest ago is forgotten") {
    RecentKeys keys(budget_for(3, 2));
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

TEST_CASE("the budget is in bytes: one long key makes room by forgetting several short ones") {
    RecentKeys keys(budget_for(4, 10));
    for (const char* key : {"aaaaaaaaaa", "bbbbbbbbbb", "cccccccccc", "dddddddddd"})
        keys.remember(key);
    CHECK(keys.size() == 4);
    const std::string long_key(10 + 2 * (10 + RecentKeys::kEntryOverhead), 'L'); // costs three short ones
    keys.remember(long_key);
    CHECK(keys.contains(long_key));
    CHECK(keys.contains("dddddddddd"));
    CHECK_FALSE(keys.contains("aaaaaaaaaa"));
    CHECK_FALSE(keys.contains("bbbbbbbbbb"));
    CHECK_FALSE(keys.contains("cccccccccc"));
    CHECK(keys.size() == 2);
    CHECK(keys.bytes() <= budget_for(4, 10));
    // A key larger than the whole budget is not remembered, and forgets nothing.
    keys.remember(std::string(budget_for(4, 10), 'H'));
    CHECK(keys.size() == 2);
}

TEST_CASE("a budget of 0 remembers nothing") {
    RecentKeys keys(0);
    keys.remember("a");
    CHECK_FALSE(keys.contains("a"));
    CHECK(keys.size() == 0);
}

TEST_CASE("60 keys of 1 MB each under a 4 MiB budget: the heap holds each remembered key once, and no more "
          "than the budget") {
    constexpr std::size_t kBudget = 4 * 1024 * 1024;
    constexpr std::size_t kKey = 1000 * 1000;
    const long long before = g_live_bytes.load();
    {
        RecentKeys keys(kBudget);
        std::string key(kKey, 'f');
        for (int i = 0; i < 60; ++i) {
            key[0] = static_cast<char>('A' + i % 26);
            key[1] = static_cast<char>('A' + i / 26);
            keys.remember(key);
            CHECK(keys.bytes() <= kBudget);
        }
        CHECK(keys.size() == 4); // four keys of 1 MB (and their overhead) fit in 4 MiB
        const long long held = g_live_bytes.load() - before - static_cast<long long>(kKey + 1); // less `key`
        MESSAGE("heap held by 4 remembered keys of 1 MB: " << held << " bytes");
        CHECK(held >= static_cast<long long>(4 * kKey));
        CHECK(held < static_cast<long long>(5 * kKey)); // kept twice it would be 8 MB
    }
    CHECK(g_live_bytes.load() - before < 64 * 1024); // the keys released (doctest keeps its messages)
}

TEST_CASE("8 threads remembering and looking up at once keep the budget") {
    RecentKeys keys(budget_for(100, 6));
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&keys, t] {
            for (int i = 0; i < 2000; ++i) {
                const std::string key = std::to_string(t) + "-" + std::to_string(1000 + i); // 6 characters
                keys.remember(key);
                (void)keys.contains(key);
            }
        });
    }
    for (auto& thread : threads)
        thread.join();
    CHECK(keys.size() == 100);
    CHECK(keys.bytes() <= budget_for(100, 6));
}
