// RecentKeys: a hash set for look-ups and a queue for the order in which keys are forgotten.
#include "audit/recent_keys.hpp"

namespace rollback {

RecentKeys::RecentKeys(std::size_t capacity) : capacity_(capacity) {}

bool RecentKeys::contains(const std::string& key) const {
    std::lock_guard lock(mutex_);
    return keys_.count(key) != 0;
}

void RecentKeys::remember(const std::string& key) {
    if (capacity_ == 0) return;
    std::lock_guard lock(mutex_);
    if (!keys_.insert(key).second) return;
    order_.push_back(key);
    if (order_.size() > capacity_) {
        keys_.erase(order_.front());
        order_.pop_front();
    }
}

std::size_t RecentKeys::size() const {
    std::lock_guard lock(mutex_);
    return keys_.size();
}

} // namespace rollback
