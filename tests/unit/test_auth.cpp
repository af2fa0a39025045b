// Unit tests for Authorization header checks (Bearer and Basic) and the constant-time comparison.
#include "api/auth.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace rollback {
namespace {

using namespace std::string_literals;

const std::string kToken = "example-webhook-token"; // what the captured Alertmanager 0.25 sent

TEST_CASE("is_authorized accepts the forms Alertmanager sends and rejects everything else") {
    struct Row {
        std::string header;
        bool accepted;
        const char* why;
    };
    const std::vector<Row> rows{
        {"Bearer example-webhook-token", true, "http_config.authorization, as captured"},
        {"bearer example-webhook-token", true, "the scheme is case-insensitive"},
        {"BEARER example-webhook-token", true, "the scheme is case-insensitive"},
        {"Bearer   example-webhook-token  ", true, "spaces around the token"},
        {"  Bearer example-webhook-token", true, "spaces before the scheme"},
        {"Bearer wrong-token", false, "wrong token"},
        {"Bearer example-webhook-tok", false, "a prefix of the token"},
        {"Bearer example-webhook-token2", false, "the token with a suffix"},
        {"Bearer xexample-webhook-token", false, "the token with a prefix"},
        {"Bearer EXAMPLE-WEBHOOK-TOKEN", false, "the token itself is case-sensitive"},
        {"", false, "no header"},
        {"Bearer", false, "the scheme alone"},
        {"Bearer ", false, "the scheme and a space"},
        {"Bearer  ", false, "the scheme and spaces"},
        {"example-webhook-token", false, "the token without a scheme"},
        {"Bearerexample-webhook-token", false, "no space after the scheme"},
        {"Bearer\texample-webhook-token", false, "a tab is not the separator"},
        {"Token example-webhook-token", false, "another scheme"},
        {"Digest example-webhook-token", false, "another scheme"},
        // Basic base64(user:token): basic_auth in Alertmanager's http_config, password = token.
        {"Basic YWxlcnRtYW5hZ2VyOmV4YW1wbGUtd2ViaG9vay10b2tlbg==", true,
         "alertmanager:example-webhook-token"},
        {"basic YWxlcnRtYW5hZ2VyOmV4YW1wbGUtd2ViaG9vay10b2tlbg==", true, "scheme case-insensitive"},
        {"Basic YTpleGFtcGxlLXdlYmhvb2stdG9rZW4=", true, "any user name: a:example-webhook-token"},
        {"Basic OmV4YW1wbGUtd2ViaG9vay10b2tlbg==", true, "an empty user name: :example-webhook-token"},
        {"Basic YWxlcnRtYW5hZ2VyOmV4YW1wbGUtd2ViaG9vay10b2tlbg", true, "padding left out"},
        {"Basic YWxlcnRtYW5hZ2VyOndyb25n", false, "alertmanager:wrong"},
        {"Basic YWxlcnRtYW5hZ2VyOmV4YW1wbGUtd2ViaG9vay10b2tlbi14", false, "a suffix: ...token-x"},
        {"Basic ZXhhbXBsZS13ZWJob29rLXRva2Vu", false, "the token without user and colon"},
        {"Basic !!!!not-base64!!!!", false, "garbage base64"},
        {"Basic ", false, "nothing after the scheme"},
        {"Basic", false, "the scheme alone"},
        {"Basic example-webhook-token", false, "the token not encoded"},
        {"Bearer YWxlcnRtYW5hZ2VyOmV4YW1wbGUtd2ViaG9vay10b2tlbg==", false, "Basic credentials as a bearer"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.header);
        CAPTURE(row.why);
        CHECK(is_authorized(row.header, kToken) == row.accepted);
    }
}

TEST_CASE("is_authorized with an empty expected token accepts any header, even none") {
    for (const std::string& header : {""s, "Bearer anything"s, "garbage"s, "Basic !!!!"s, "Bearer"s}) {
        CAPTURE(header);
        CHECK(is_authorized(header, ""));
    }
}

TEST_CASE("is_authorized never accepts an empty presented token when one is required") {
    CHECK_FALSE(is_authorized("Bearer ", "t"));
    CHECK_FALSE(is_authorized("Basic dXNlcjo=", "t")); // "user:" with an empty password
    CHECK(is_authorized("Basic dXNlcjp0", "t"));       // "user:t"
}

TEST_CASE("is_authorized takes everything after the first colon as the password") {
    // "user:pa:ss": user names cannot hold a colon (RFC 7617), passwords can.
    CHECK(is_authorized("Basic dXNlcjpwYTpzcw==", "pa:ss"));
    CHECK_FALSE(is_authorized("Basic dXNlcjpwYTpzcw==", "ss"));
}

TEST_CASE("constant_time_equals compares whole strings, lengths included") {
    struct Row {
        std::string a;
        std::string b;
        bool equal;
    };
    const std::vector<Row> rows{
        {"", "", true},
        {"token", "token", true},
        {"token", "Token", false},
        {"token", "tokex", false},
        {"token", "toke", false},
        {"toke", "token", false},
        {"", "a", false},
        {"a", "", false},
        {"\0"s, "", false}, // a NUL is a byte like any other, not the end
        {"a\0b"s, "a\0c"s, false},
        {"a\0b"s, "a\0b"s, true},
        {"\xff\xfe", "\xff\xfe", true},
        {"\xff\xfe", "\xff\xff", false},
        {std::string(1000, 'x'), std::string(1000, 'x'), true},
        {std::string(1000, 'x'), std::string(999, 'x') + "y", false},
    };
    for (const auto& row : rows) {
        CAPTURE(row.a);
        CAPTURE(row.b);
        CHECK(constant_time_equals(row.a, row.b) == row.equal);
        CHECK(constant_time_equals(row.b, row.a) == row.equal); // symmetric
    }
}

} // namespace
} // namespace rollback
