// Slack mrkdwn escaping and http(s)-only links: pure string work.
#include "common/mrkdwn.hpp"

#include <algorithm>
#include <cctype>

namespace rollback {
namespace {

bool is_http_url(std::string_view url) {
    std::string lower(url.substr(0, std::min<std::size_t>(url.size(), 8)));
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    const std::string_view start = lower;
    const std::size_t host = start.starts_with("https://") ? 8 : start.starts_with("http://") ? 7 : 0;
    if (host == 0 || host == url.size() || url.find_first_of("/?#", host) == host) return false;
    return std::none_of(url.begin(), url.end(), [](char c) {
        const auto byte = static_cast<unsigned char>(c);
        return byte <= 0x20 || byte == 0x7f;
    });
}

} // namespace

std::string escape_mrkdwn(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        default:
            out += c;
        }
    }
    return out;
}

std::string mrkdwn_link(std::string_view url, std::string_view label) {
    if (!is_http_url(url)) return "";
    std::string target;
    for (const char c : url)
        target += c == '|' ? std::string("%7C") : std::string(1, c);
    return "<" + escape_mrkdwn(target) + "|" + escape_mrkdwn(label) + ">";
}

} // namespace rollback
