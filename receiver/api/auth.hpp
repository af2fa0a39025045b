// Who may make a request: bearer and basic token checks in constant time, the read-only token, and the
// refusal of writes a browser could send from another site.
#pragma once

#include <string>
#include <string_view>

namespace rollback {

// True when a and b are equal; the time taken depends only on their lengths, not on where they differ.
bool constant_time_equals(std::string_view a, std::string_view b);

// Checks an Authorization header against the expected token. An empty expected token means no token is
// required. Accepts "Bearer <token>" (scheme case-insensitive) and "Basic base64(user:<token>)", the two
// forms Alertmanager's http_config can send.
bool is_authorized(std::string_view authorization_header, std::string_view expected_token);

// The tokens of the API routes (/api/v1/*, /-/reload). An empty api token: the API is open to anyone
// who can reach it (loopback only; the daemon refuses anything else).
struct ApiTokens {
    std::string api;  // reads and writes
    std::string read; // reads only; empty: no read-only token
};

enum class ApiAccess {
    allowed,
    unauthorized, // no token, or a wrong one: 401
    read_only,    // the read token on a write: 403
};

// The API token may read and write; the read token may only read (`write` false). Both tokens are
// compared in constant time, each whether or not the other matched.
ApiAccess check_api_access(std::string_view authorization_header, const ApiTokens& tokens, bool write);

// True for the methods that change something: every method but GET, HEAD and OPTIONS.
bool is_write_method(std::string_view method);

// The headers a browser sets on a request that tell where it came from.
struct RequestOrigin {
    std::string origin;         // Origin, "" when absent
    std::string host;           // Host
    std::string sec_fetch_site; // Sec-Fetch-Site, "" when absent
};

// Whether a write may have come from a page of another site, which a browser sends on the user's behalf
// (a form, a fetch in no-cors mode) with whatever credentials it holds for the receiver. Refused: a
// Sec-Fetch-Site other than "same-origin" or "none" (cross-site and same-site alike: a page on another
// port of localhost is same-site), an Origin of "null", and an Origin whose host[:port] is not the
// request's Host. Without a token on the route (`credential_free`) the Origin's host must also be a
// loopback address: a page that rebound its own name to 127.0.0.1 is same-origin with its Host but not
// loopback. A request with neither header (curl, CI, Alertmanager, rollbackctl) is not from a browser.
// The empty string when the write is allowed, else why not.
std::string cross_site_refusal(const RequestOrigin& request, bool credential_free);

// A write with a body to a route that needs no token must say `Content-Type: application/json`
// (parameters such as charset allowed): a page of another site can send text/plain, form and multipart
// bodies without asking, never application/json. A write without a body passes.
bool has_json_content_type(std::string_view content_type_header);

} // namespace rollback
