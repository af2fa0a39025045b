// A bounded, thread-safe set of the most recently remembered de-duplication keys (oldest forgotten first).
#pragma once

#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_set>

namespace rollback {

// The audit trail remembers here the keys of events the ledger holds, so that a repeat (Alertmanager
// re-sends each firing group every group_interval) is answered without a ledger transaction. Forgetting
// a key only costs that: the ledger's own de-duplication still answers for it.
class RecentKeys {
  public:
    explicit RecentKeys(std::size_t capacity);

    bool contains(const std::string& key) const;
    // Remembers `key`; beyond the capacity the key remembered longest ago is forgotten.
    void remember(const std::string& key);
    std::size_t size() const;

  private:
    const std::size_t capacity_;
    mutable std::mutex mutex_;
    std::unordered_set<std::string> keys_;
    std::deque<std::string> order_; // oldest first
};

} // namespace rollback
