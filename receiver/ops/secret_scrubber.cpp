// Secret scrubbing: the needles of each configured secret and their replacement in a text; pure string work.
#include "ops/secret_scrubber.hpp"

#include "codec/codec.hpp"

#include <algorithm>
#include <mutex>

namespace rollback {
namespace {

std::mutex g_installed_mutex;
std::shared_ptr<const SecretScrubber> g_installed; // guarded by g_installed_mutex

void replace_all(std::string& text, std::string_view needle, std::string_view mark) {
    for (std::size_t at = text.find(needle); at != std::string::npos;
         at = text.find(needle, at + mark.size()))
        text.replace(at, needle.size(), mark);
}

// The part of `needle` that `text` ends with (its first characters) or starts with (its last ones), when
// kMinLength or longer; the longest such part.
void replace_cut_edges(std::string& text, std::string_view needle, std::string_view mark,
                       std::size_t min_length) {
    if (needle.size() <= min_length) return;
    for (std::size_t length = std::min(needle.size() - 1, text.size()); length >= min_length; --length) {
        if (std::string_view(text).ends_with(needle.substr(0, length))) {
            text.replace(text.size() - length, length, mark);
            break;
        }
    }
    for (std::size_t length = std::min(needle.size() - 1, text.size()); length >= min_length; --length) {
        if (std::string_view(text).starts_with(needle.substr(needle.size() - length))) {
            text.replace(0, length, mark);
            break;
        }
    }
}

} // namespace

SecretScrubber::SecretScrubber(const std::vector<SecretValue>& secrets) {
    auto add = [this](std::string_view needle) {
        if (needle.size() < kMinLength) return;
        needles_.emplace_back(needle);
        const std::string quoted = json_quote(needle);
        const std::string_view escaped = std::string_view(quoted).substr(1, quoted.size() - 2);
        if (escaped != needle) needles_.emplace_back(escaped);
    };
    for (const SecretValue& secret : secrets) {
        if (secret.value.size() < kMinLength) {
            unscrubbed_keys_.push_back(secret.key);
            continue;
        }
        add(secret.value);
        std::size_t start = 0;
        while (start < secret.value.size()) {
            const std::size_t end = std::min(secret.value.find_first_of(" \t", start), secret.value.size());
            if (end - start < secret.value.size())
                add(std::string_view(secret.value).substr(start, end - start));
            start = end + 1;
        }
    }
    std::sort(needles_.begin(), needles_.end(), [](const std::string& a, const std::string& b) {
        return a.size() != b.size() ? a.size() > b.size() : a < b;
    });
    needles_.erase(std::unique(needles_.begin(), needles_.end()), needles_.end());
}

std::string SecretScrubber::scrub(std::string_view text) const {
    std::string scrubbed(text);
    if (text.size() < kMinLength) return scrubbed;
    for (const std::string& needle : needles_)
        replace_all(scrubbed, needle, kMark);
    for (const std::string& needle : needles_)
        replace_cut_edges(scrubbed, needle, kMark, kMinLength);
    return scrubbed;
}

void install_secret_scrubber(std::shared_ptr<const SecretScrubber> scrubber) {
    std::lock_guard lock(g_installed_mutex);
    g_installed = std::move(scrubber);
}

std::shared_ptr<const SecretScrubber> installed_secret_scrubber() {
    std::lock_guard lock(g_installed_mutex);
    return g_installed;
}

} // namespace rollback
