// Unit tests for SecretScrubber: which parts of a secret it replaces, what it leaves (short secrets), the
// JSON-escaped form, texts cut at a limit, and the installed scrubber.
#include "ops/secret_scrubber.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace rollback {
namespace {

const std::string kToken = "tok-0123456789abcdef";

TEST_CASE("scrub replaces every configured secret of 8 characters or more, in any text") {
    const SecretScrubber scrubber(
        {{"auth.api_token_file", kToken},
         {"services.a.rollback.webhook.headers.Authorization.file", "Bearer ghp_abcdefgh"},
         {"notify[0].url", "/services/T0/B0/XYZ"},
         {"services.a.rollback.webhook.headers.X-Api-Key", "quote\"d\\secret"},
         {"auth.webhook_token_file", "short"}});
    struct Row {
        std::string text;
        std::string scrubbed;
    };
    const std::vector<Row> rows{
        {"nothing secret here", "nothing secret here"},
        {kToken, "<redacted>"},
        {"Authorization: Bearer " + kToken + "\r\nHost: x", "Authorization: Bearer <redacted>\r\nHost: x"},
        {kToken + kToken, "<redacted><redacted>"},
        // a secret file's whole line and each of its words of 8 or more ("Bearer" is shorter)
        {"Bearer ghp_abcdefgh", "<redacted>"},
        {"{\"token\":\"ghp_abcdefgh\"}", "{\"token\":\"<redacted>\"}"},
        {"POST /services/T0/B0/XYZ HTTP/1.1", "POST <redacted> HTTP/1.1"},
        // the JSON-escaped form, as a secret reads inside the trail's detail
        {"{\"output\":\"quote\\\"d\\\\secret\"}", "{\"output\":\"<redacted>\"}"},
        {"quote\"d\\secret", "<redacted>"},
        // shorter than 8: never scrubbed, so "short" in ordinary text survives
        {"a short reason", "a short reason"},
        // a text cut at a limit: the secret's first (or last) 8 or more characters at its end (or start)
        {"HTTP 500: Bearer " + kToken.substr(0, 10), "HTTP 500: Bearer <redacted>"},
        {kToken.substr(kToken.size() - 9) + "\" rest", "<redacted>\" rest"},
        {"ends with " + kToken.substr(0, 7), "ends with " + kToken.substr(0, 7)}, // 7: too short to tell
        {"", ""},
    };
    for (const Row& row : rows) {
        CAPTURE(row.text);
        CHECK(scrubber.scrub(row.text) == row.scrubbed);
    }
    CHECK(scrubber.unscrubbed_keys() == std::vector<std::string>{"auth.webhook_token_file"});
    CHECK_FALSE(scrubber.empty());
}

TEST_CASE("a scrubber without secrets (or with only short ones) leaves every text as it is") {
    const SecretScrubber none;
    CHECK(none.empty());
    CHECK(none.scrub("Bearer " + kToken) == "Bearer " + kToken);
    const SecretScrubber only_short(std::vector<SecretValue>{{"auth.api_token_file", "abc"}});
    CHECK(only_short.empty());
    CHECK(only_short.scrub("abc abc") == "abc abc");
}

TEST_CASE("the installed scrubber is the last one installed; null until one is") {
    install_secret_scrubber(nullptr);
    CHECK(installed_secret_scrubber() == nullptr);
    auto scrubber = std::make_shared<const SecretScrubber>(std::vector<SecretValue>{{"k", kToken}});
    install_secret_scrubber(scrubber);
    CHECK(installed_secret_scrubber() == scrubber);
    install_secret_scrubber(nullptr);
}

} // namespace
} // namespace rollback
