// RecentKeys: the keys once in a list (the order they are forgotten in) and a hash set of views into it.
#include "audit/recent_keys.hpp"

namespace rollback {

RecentKeys::RecentKeys(std::size_t byte_budget) : byte_budget_(byte_budget) {}

bool RecentKeys::contains(const std::string& key) const {
    std::lock_guard lock(mutex_);
    return keys_.count(std::string_view(key)) != 0;
}

void RecentKeys::remember(const std::string& key) {
    const std::size_t cost = key.size() + kEntryOverhead;
    if (cost > byte_budget_) return;
    std::lock_guard lock(mutex_);
    if (keys_.count(std::string_view(key)) != 0) return;
    while (!order_.empty() && bytes_ + cost > byte_budget_) {
        keys_.erase(std::string_view(order_.front()));
        bytes_ -= order_.front().size() + kEntryOverhead;
        order_.pop_front();
    }
    keys_.insert(std::string_view(order_.emplace_back(key)));
    bytes_ += cost;
}

std::size_t RecentKeys::size() const {
    std::lock_guard lock(mutex_);
    return keys_.size();
}

std::size_t RecentKeys::bytes() const {
    std::lock_guard lock(mutex_);
    return bytes_;
}

} // namespace rollback
