// Splits http:// and https:// URLs into the origin a client connects to and the path it asks for.
#pragma once

#include "common/result.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace rollback {

struct HttpUrl {
    std::string scheme; // "http" or "https", lower case
    std::string origin; // scheme://host[:port], what an HTTP client is created with
    std::string path;   // "/..." with any query; "/" when the URL has none
};

// Accepts http://HOST[:PORT][/PATH][?QUERY] and https://...; a missing scheme is an error unless
// `default_scheme` is given ("http" for rollbackctl's --url 127.0.0.1:9095). A fragment, spaces, control
// characters or an empty host are errors; the message quotes the URL (as redact_url shows it: never its path,
// query or user info) and shows the expected form.
Result<HttpUrl> parse_http_url(std::string_view url, std::string_view default_scheme = {});

// What follows the host (and port) of `url`: path, query and fragment ("" when none). The host starts after
// "scheme://", or at the beginning without one (rollbackctl's --url 127.0.0.1:9095).
std::string_view url_path_and_query(std::string_view url);

// The URL as logs, messages and the trail show it: scheme and host, with "/<redacted>" in place of any path
// and query and "<redacted>@" for user info, since a chat webhook's path
// (https://hooks.slack.com/services/...) or a query's token IS the secret:
// "https://hooks.slack.com/services/T0/B0/XYZ" -> "https://hooks.slack.com/<redacted>";
// "https://chat.example" and "https://chat.example/" stay as they are.
std::string redact_url(std::string_view url);

// Percent-encoding of one query value or path segment (RFC 3986 unreserved characters stay).
std::string percent_encode(std::string_view text);

// The value of query parameter `name` in `url` (after its first '?', up to any '#'), decoded as a form value
// ("+" is a space, %XX a byte); nullopt when the URL has no such parameter, a broken escape, or a value
// longer than `max_bytes` once decoded. The first of repeated parameters counts. For Prometheus'
// generatorURL: query_parameter(url, "g0.expr", 4096) is the alert's expression.
std::optional<std::string> query_parameter(std::string_view url, std::string_view name,
                                           std::size_t max_bytes);

} // namespace rollback
