// WorkerPool: tasks run once each, at most N at a time, in the order submitted; stop() hands back the rest.
#include "engine/worker_pool.hpp"

#include "support/eventually.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

using namespace rollback;
using namespace std::chrono_literals;
using rollback::testing::eventually;

namespace {

// What the pool's tasks did: the order they started in, the high-water mark of tasks at once, and a gate
// that holds each task until the test opens it.
struct Recorder {
    std::mutex mutex;
    std::vector<int> started;
    int running = 0;
    int most_running = 0;
    std::atomic<bool> open{false};
    std::vector<std::size_t> queued_lengths; // what queued_changed was told

    void run(int task) {
        {
            std::lock_guard lock(mutex);
            started.push_back(task);
            most_running = std::max(most_running, ++running);
        }
        for (int i = 0; i < 1000 && !open; ++i)
            std::this_thread::sleep_for(5ms);
        std::lock_guard lock(mutex);
        --running;
    }
    std::size_t started_count() {
        std::lock_guard lock(mutex);
        return started.size();
    }
};

} // namespace

TEST_CASE("tasks run once each, at most `workers` at a time, and in the order submitted") {
    for (const std::size_t workers : {1U, 3U}) {
        CAPTURE(workers);
        Recorder recorder;
        WorkerPool<int> pool(
            workers, [&](int& task) { recorder.run(task); },
            [&](std::size_t queued) { recorder.queued_lengths.push_back(queued); }); // under the pool's lock
        for (int task = 0; task < 20; ++task)
            CHECK_FALSE(pool.submit(task).has_value());
        REQUIRE(eventually([&] { return recorder.started_count() == workers; }));
        CHECK(pool.running() == workers);
        CHECK(pool.queued() == 20 - workers);
        CHECK_FALSE(pool.wait_idle_for(20ms)); // held: not idle
        recorder.open = true;
        pool.wait_idle();
        CHECK(pool.running() == 0);
        CHECK(pool.queued() == 0);
        CHECK(recorder.most_running == static_cast<int>(workers));
        REQUIRE(recorder.started.size() == 20);
        if (workers == 1) {
            std::vector<int> in_order(20);
            for (int i = 0; i < 20; ++i)
                in_order[static_cast<std::size_t>(i)] = i;
            CHECK(recorder.started == in_order);
        }
        std::vector<int> each_once = recorder.started;
        std::sort(each_once.begin(), each_once.end());
        CHECK(std::adjacent_find(each_once.begin(), each_once.end()) == each_once.end());
        CHECK(recorder.queued_lengths.back() == 0);
        const std::size_t longest =
            *std::max_element(recorder.queued_lengths.begin(), recorder.queued_lengths.end());
        CHECK(longest >= 20 - workers); // the workers may take tasks while the others are submitted
        CHECK(longest <= 20);
    }
}

TEST_CASE("stop hands back the tasks that never started, in order; none starts after, running ones finish") {
    Recorder recorder;
    WorkerPool<int> pool(2, [&](int& task) { recorder.run(task); });
    for (int task = 0; task < 6; ++task)
        REQUIRE_FALSE(pool.submit(task).has_value());
    REQUIRE(eventually([&] { return recorder.started_count() == 2; }));
    const std::vector<int> unstarted = pool.stop();
    CHECK(unstarted == std::vector<int>{2, 3, 4, 5});
    CHECK(pool.queued() == 0);
    CHECK(pool.running() == 2); // the running ones go on

    const std::optional<int> refused = pool.submit(7);
    REQUIRE(refused.has_value());
    CHECK(*refused == 7);

    recorder.open = true;
    pool.join();
    CHECK(pool.running() == 0);
    CHECK(recorder.started.size() == 2);
    CHECK(pool.stop().empty()); // a second stop finds nothing
}

TEST_CASE(
    "an idle pool is idle at once; the destructor drops the queued tasks and waits for the running one") {
    std::atomic<int> ran{0};
    {
        WorkerPool<int> pool(1, [&](int&) { ++ran; });
        CHECK(pool.wait_idle_for(0ms));
        pool.wait_idle();
    }
    CHECK(ran == 0);

    Recorder recorder;
    std::atomic<std::size_t> last_queued{0};
    std::thread opener;
    {
        WorkerPool<int> pool(
            1, [&](int& task) { recorder.run(task); }, [&](std::size_t queued) { last_queued = queued; });
        for (int task = 0; task < 3; ++task)
            REQUIRE_FALSE(pool.submit(task).has_value());
        REQUIRE(eventually([&] { return recorder.started_count() == 1 && last_queued == 2; }));
        // With task 0 held, only the destructor's stop() empties the queue: then task 0 may end.
        opener = std::thread([&] {
            if (eventually([&] { return last_queued == 0; })) recorder.open = true;
        });
    }
    opener.join();
    CHECK(recorder.open);
    CHECK(recorder.started == std::vector<int>{0});
    CHECK(recorder.running == 0);
}
