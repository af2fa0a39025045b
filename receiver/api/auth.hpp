// Bearer-token checks for the HTTP API: header parsing and a constant-time comparison.
#pragma once

#include <string_view>

namespace rollback {

// True when a and b are equal; the time taken depends only on their lengths, not on where they differ.
bool constant_time_equals(std::string_view a, std::string_view b);

// Checks an Authorization header against the expected token. An empty expected token means no token is
// required. Accepts "Bearer <token>" (scheme case-insensitive) and "Basic base64(user:<token>)", the two
// forms Alertmanager's http_config can send.
bool is_authorized(std::string_view authorization_header, std::string_view expected_token);

} // namespace rollback
