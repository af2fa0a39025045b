// Authorization header parsing (Bearer, Basic), constant-time token comparison, the read-only token and the
// cross-site rules for writes.
#include "api/auth.hpp"

#include "common/text.hpp"
#include "http/server.hpp" // is_loopback_host

#include <algorithm>
#include <cctype>
#include <string>

namespace rollback {
namespace {

bool starts_with_scheme(std::string_view header, std::string_view scheme) {
    if (header.size() <= scheme.size() || header[scheme.size()] != ' ') return false;
    for (std::size_t i = 0; i < scheme.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(header[i])) != scheme[i]) return false;
    return true;
}

std::string base64_decode(std::string_view text) {
    auto value_of = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    std::string out;
    int buffer = 0, bits = 0;
    for (char c : text) {
        if (c == '=') break;
        const int value = value_of(c);
        if (value < 0) return {};
        buffer = (buffer << 6) | value;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((buffer >> bits) & 0xff);
        }
    }
    return out;
}

std::string lower_case(std::string_view text) {
    std::string lower(text);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    return lower;
}

// The host of "host[:port]" or "[v6]:port", without brackets.
std::string_view host_of_authority(std::string_view authority) {
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        return close == std::string_view::npos ? std::string_view() : authority.substr(1, close - 1);
    }
    return authority.substr(0, authority.find(':'));
}

} // namespace

bool constant_time_equals(std::string_view a, std::string_view b) {
    unsigned char difference = a.size() == b.size() ? 0 : 1;
    const std::size_t length = std::max(a.size(), b.size());
    for (std::size_t i = 0; i < length; ++i) {
        const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
        const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
        difference |= static_cast<unsigned char>(x ^ y);
    }
    return difference == 0;
}

bool is_authorized(std::string_view authorization_header, std::string_view expected_token) {
    if (expected_token.empty()) return true;
    const std::string_view header = trim(authorization_header);
    if (starts_with_scheme(header, "bearer"))
        return constant_time_equals(trim(header.substr(7)), expected_token);
    if (starts_with_scheme(header, "basic")) {
        const std::string decoded = base64_decode(trim(header.substr(6)));
        const auto colon = decoded.find(':');
        if (colon == std::string::npos) return false;
        return constant_time_equals(std::string_view(decoded).substr(colon + 1), expected_token);
    }
    return false;
}

ApiAccess check_api_access(std::string_view authorization_header, const ApiTokens& tokens, bool write) {
    if (tokens.api.empty()) return ApiAccess::allowed;
    const bool api_token = is_authorized(authorization_header, tokens.api);
    const bool read_token = !tokens.read.empty() && is_authorized(authorization_header, tokens.read);
    if (api_token) return ApiAccess::allowed;
    if (!read_token) return ApiAccess::unauthorized;
    return write ? ApiAccess::read_only : ApiAccess::allowed;
}

bool is_write_method(std::string_view method) {
    return method != "GET" && method != "HEAD" && method != "OPTIONS";
}

std::string cross_site_refusal(const RequestOrigin& request, bool credential_free) {
    const std::string fetch_site = lower_case(trim(request.sec_fetch_site));
    if (!fetch_site.empty() && fetch_site != "same-origin" && fetch_site != "none")
        return "Sec-Fetch-Site: " + fetch_site + ": a page of another site may not change anything here";
    const std::string origin = lower_case(trim(request.origin));
    if (origin.empty()) return "";
    const auto scheme_end = origin.find("://");
    const std::string_view authority = scheme_end == std::string::npos
                                           ? std::string_view()
                                           : std::string_view(origin).substr(scheme_end + 3);
    const std::string_view scheme = std::string_view(origin).substr(0, scheme_end);
    if (authority.empty() || (scheme != "http" && scheme != "https") ||
        authority != lower_case(trim(request.host)))
        return "Origin: " + origin +
               " is not this receiver; a page of another site may not change anything here";
    if (credential_free && !is_loopback_host(std::string(host_of_authority(authority))))
        return "Origin: " + origin +
               " is not a loopback address; without tokens only pages on 127.0.0.1, [::1] or localhost may "
               "change anything here";
    return "";
}

bool has_json_content_type(std::string_view content_type_header) {
    const std::string_view media_type = trim(content_type_header.substr(0, content_type_header.find(';')));
    return lower_case(media_type) == "application/json";
}

} // namespace rollback
