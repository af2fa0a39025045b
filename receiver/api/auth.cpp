// Authorization header parsing (Bearer, Basic) and constant-time token comparison.
#include "api/auth.hpp"

#include "common/text.hpp"

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

} // namespace rollback
