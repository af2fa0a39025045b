// Replaces the configured secret values by "<redacted>" in text bound for the trail or the logs.
#pragma once

#include "config/secret_values.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rollback {

// Built from configured_secret_values at each load of the config; immutable, so one instance is shared
// by every thread (the daemon swaps in a new one at reload).
class SecretScrubber {
  public:
    // Secrets shorter than this are not scrubbed: replacing every "abc" or "1234" in reasons, outputs and
    // log lines would wreck the trail (version numbers, ids and ordinary words hold such strings), and a
    // secret that short is guessed, not leaked. Such keys are listed in unscrubbed_keys() for a warning.
    static constexpr std::size_t kMinLength = 8;
    static constexpr std::string_view kMark = "<redacted>";

    SecretScrubber() = default;
    explicit SecretScrubber(const std::vector<SecretValue>& secrets);

    // `text` with every occurrence of a secret replaced by kMark: the whole value, each of its words
    // (whitespace-separated: "Bearer <token>" in a file scrubs the token alone too) and the JSON-escaped
    // form of each (the trail's `detail` is JSON text). A text cut at a limit may hold a secret's first
    // or last part only: a text that ends with the first kMinLength or more characters of a secret, or
    // starts with its last kMinLength or more, has that part replaced as well.
    std::string scrub(std::string_view text) const;

    bool empty() const { return needles_.empty(); }
    // The keys of configured secrets shorter than kMinLength: not scrubbed.
    const std::vector<std::string>& unscrubbed_keys() const { return unscrubbed_keys_; }

  private:
    std::vector<std::string> needles_; // longest first, so a value goes before its own words
    std::vector<std::string> unscrubbed_keys_;
};

// The scrubber of the config in use, for what has no config at hand: every log line, every chat message.
// The daemon installs one per loaded config; null until then (nothing scrubbed).
void install_secret_scrubber(std::shared_ptr<const SecretScrubber> scrubber);
std::shared_ptr<const SecretScrubber> installed_secret_scrubber();

} // namespace rollback
