// A thread-safe set of the most recently remembered de-duplication keys, bounded in bytes (oldest forgotten
// first).
#pragma once

#include <cstddef>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>

namespace rollback {

// The audit trail remembers here the keys of events the ledger holds, so that a repeat (Alertmanager
// re-sends each firing group every group_interval) is answered without a ledger transaction. Forgetting
// a key only costs that: the ledger's own de-duplication still answers for it.
//
// The memory is bounded by bytes, not by keys (keys hold values from outside): each key is kept once and
// counted as its length plus kEntryOverhead (its list node, hash node and bucket), and the keys
// remembered longest ago are forgotten until the total is within the budget. A key larger than the whole
// budget is not remembered.
class RecentKeys {
  public:
    static constexpr std::size_t kEntryOverhead = 128; // bytes an entry costs besides its key's characters

    explicit RecentKeys(std::size_t byte_budget);

    bool contains(const std::string& key) const;
    // Remembers `key`; beyond the budget the keys remembered longest ago are forgotten.
    void remember(const std::string& key);
    std::size_t size() const;
    // The bytes the remembered keys count for: at most the budget.
    std::size_t bytes() const;

  private:
    const std::size_t byte_budget_;
    mutable std::mutex mutex_;
    std::list<std::string> order_;              // the keys, oldest first; a node never moves
    std::unordered_set<std::string_view> keys_; // views of order_'s strings, for look-ups
    std::size_t bytes_ = 0;
};

} // namespace rollback
