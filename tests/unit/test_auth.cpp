// Unit tests for Authorization header checks (Bearer and Basic), the constant-time comparison, the read
// token and the cross-site rules for writes.
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

TEST_CASE(
    "check_api_access: the API token reads and writes, the read token only reads, nothing else gets in") {
    const ApiTokens both{"api-token-1", "read-token-2"};
    const ApiTokens api_only{"api-token-1", ""};
    const ApiTokens open{"", ""};
    struct Row {
        const char* header;
        ApiTokens tokens;
        bool write;
        ApiAccess expected;
        const char* why;
    };
    const std::vector<Row> rows{
        {"Bearer api-token-1", both, false, ApiAccess::allowed, "the API token reads"},
        {"Bearer api-token-1", both, true, ApiAccess::allowed, "the API token writes"},
        {"Bearer read-token-2", both, false, ApiAccess::allowed, "the read token reads"},
        {"Bearer read-token-2", both, true, ApiAccess::read_only, "the read token may not write"},
        {"Basic dTpyZWFkLXRva2VuLTI=", both, true, ApiAccess::read_only, "u:read-token-2 as basic auth"},
        {"Basic dTpyZWFkLXRva2VuLTI=", both, false, ApiAccess::allowed, "u:read-token-2 reads"},
        {"", both, false, ApiAccess::unauthorized, "no header"},
        {"Bearer read-token-", both, false, ApiAccess::unauthorized, "a prefix of the read token"},
        {"Bearer webhook-token", both, false, ApiAccess::unauthorized, "another token"},
        {"Bearer ", api_only, false, ApiAccess::unauthorized, "an empty token matches nothing"},
        {"Bearer read-token-2", api_only, false, ApiAccess::unauthorized, "no read token configured"},
        {"", open, true, ApiAccess::allowed, "no API token: the API is open"},
    };
    for (const Row& row : rows) {
        CAPTURE(row.why);
        CHECK(check_api_access(row.header, row.tokens, row.write) == row.expected);
    }
}

TEST_CASE("is_write_method: everything but GET, HEAD and OPTIONS changes something") {
    for (const char* method : {"GET", "HEAD", "OPTIONS"})
        CHECK_FALSE(is_write_method(method));
    for (const char* method : {"POST", "PUT", "DELETE", "PATCH", "PROPFIND"})
        CHECK(is_write_method(method));
}

TEST_CASE("cross_site_refusal: a write from a page of another site is refused; clients that are not "
          "browsers pass") {
    struct Row {
        RequestOrigin request;
        bool credential_free;
        const char* refusal_part; // "" when allowed
    };
    const std::vector<Row> rows{
        {{"", "127.0.0.1:9095", ""}, true, ""}, // curl, CI, Alertmanager: no Origin, no Sec-Fetch-Site
        {{"http://evil.example", "127.0.0.1:9095", ""},
         true,
         "Origin: http://evil.example is not this receiver"},
        {{"http://evil.example", "127.0.0.1:9095", ""}, false, "is not this receiver"},
        {{"null", "127.0.0.1:9095", ""}, true, "Origin: null is not this receiver"},
        {{"http://127.0.0.1:9095", "127.0.0.1:9095", ""}, true, ""},
        {{"HTTP://LocalHost:9095", "localhost:9095", "same-origin"}, true, ""},
        {{"http://[::1]:9095", "[::1]:9095", ""}, true, ""},
        {{"http://localhost:3000", "localhost:9095", ""}, true, "Origin: http://localhost:3000 is not this"},
        {{"http://127.0.0.1:9095", "localhost:9095", ""}, true, "is not this receiver"},
        {{"ftp://127.0.0.1:9095", "127.0.0.1:9095", ""}, true, "is not this receiver"},
        {{"127.0.0.1:9095", "127.0.0.1:9095", ""}, true, "is not this receiver"},
        // DNS rebinding: evil.example now resolves to 127.0.0.1, so Origin and Host agree.
        {{"http://evil.example:9095", "evil.example:9095", ""}, true, "is not a loopback address"},
        {{"https://receiver.internal:9095", "receiver.internal:9095", ""}, false, ""}, // with tokens
        {{"", "127.0.0.1:9095", "cross-site"}, true, "Sec-Fetch-Site: cross-site"},
        {{"", "127.0.0.1:9095", "Cross-Site"}, false, "Sec-Fetch-Site: cross-site"},
        {{"", "127.0.0.1:9095", "same-site"}, true, "Sec-Fetch-Site: same-site"},
        {{"", "127.0.0.1:9095", "same-origin"}, true, ""},
        {{"", "127.0.0.1:9095", "none"}, true, ""}, // typed into the address bar by the user
        {{"http://127.0.0.1:9095", "127.0.0.1:9095", "cross-site"}, true, "Sec-Fetch-Site: cross-site"},
    };
    for (const Row& row : rows) {
        CAPTURE(row.request.origin);
        CAPTURE(row.request.host);
        CAPTURE(row.request.sec_fetch_site);
        CAPTURE(row.credential_free);
        const std::string refusal = cross_site_refusal(row.request, row.credential_free);
        if (std::string(row.refusal_part).empty())
            CHECK(refusal.empty());
        else
            CHECK_MESSAGE(refusal.find(row.refusal_part) != std::string::npos, refusal);
    }
}

TEST_CASE("has_json_content_type: application/json with any parameters; what a form can send is not") {
    for (const char* accepted : {"application/json", "application/json; charset=utf-8", "Application/JSON",
                                 " application/json ;charset=UTF-8"})
        CHECK_MESSAGE(has_json_content_type(accepted), accepted);
    for (const char* refused :
         {"", "text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded",
          "multipart/form-data; boundary=x", "application/json-seq", "application/jsonx", "text/json"})
        CHECK_FALSE_MESSAGE(has_json_content_type(refused), refused);
}

} // namespace
} // namespace rollback
