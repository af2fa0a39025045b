// URL splitting for outgoing HTTP calls and rollbackctl's --url/--prometheus: pure string work.
#include "common/url.hpp"

#include <algorithm>
#include <cctype>

namespace rollback {

namespace {

// Where the host (with any user info and port) starts in `url`.
std::size_t host_start(std::string_view url) {
    const auto scheme_end = url.find("://");
    return scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
}

} // namespace

std::string_view url_path_and_query(std::string_view url) {
    const std::size_t host_end = url.find_first_of("/?#", host_start(url));
    return host_end == std::string_view::npos ? std::string_view() : url.substr(host_end);
}

std::string redact_url(std::string_view url) {
    const std::string_view rest = url_path_and_query(url);
    const std::size_t start = host_start(url);
    std::string_view authority = url.substr(start, url.size() - rest.size() - start);
    std::string shown(url.substr(0, start));
    if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
        shown += "<redacted>@";
        authority.remove_prefix(at + 1);
    }
    shown += authority;
    return rest.empty() || rest == "/" ? shown + std::string(rest) : shown + "/<redacted>";
}

Result<HttpUrl> parse_http_url(std::string_view url, std::string_view default_scheme) {
    const std::string quoted = "\"" + redact_url(url) + "\"";
    const std::string form = " (expected http://HOST[:PORT][/PATH] or https://...)";
    if (url.empty()) return make_error("the URL is empty" + form);
    for (const char c : url) {
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
            return make_error(quoted + ": a URL may not hold spaces or control characters");
    }
    std::string scheme;
    std::string_view rest = url;
    if (const auto scheme_end = url.find("://"); scheme_end != std::string_view::npos) {
        scheme = std::string(url.substr(0, scheme_end));
        std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        rest = url.substr(scheme_end + 3);
    } else if (!default_scheme.empty()) {
        scheme = std::string(default_scheme);
    } else {
        return make_error(quoted + ": no scheme" + form);
    }
    if (scheme != "http" && scheme != "https") return make_error(quoted + ": unsupported scheme" + form);
    const std::size_t host_end = rest.find_first_of("/?#");
    const std::string_view host = rest.substr(0, host_end);
    if (host.empty() || host.find('@') != std::string_view::npos)
        return make_error(quoted + ": expected a host after " + scheme + "://" + form);
    if (host.back() == ':') return make_error(quoted + ": a port must follow the ':'" + form);
    std::string path = host_end == std::string_view::npos ? "/" : std::string(rest.substr(host_end));
    if (path.find('#') != std::string::npos) return make_error(quoted + ": a fragment (#...) is not allowed");
    if (path.front() == '?') path.insert(path.begin(), '/');
    return HttpUrl{scheme, scheme + "://" + std::string(host), path};
}

std::string percent_encode(std::string_view text) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (std::isalnum(byte) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += c;
        } else {
            out += '%';
            out += kHex[byte >> 4];
            out += kHex[byte & 0x0F];
        }
    }
    return out;
}

std::optional<std::string> query_parameter(std::string_view url, std::string_view name,
                                           std::size_t max_bytes) {
    const std::size_t question = url.find('?');
    if (question == std::string_view::npos) return std::nullopt;
    std::string_view query = url.substr(question + 1);
    query = query.substr(0, query.find('#'));
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    while (!query.empty()) {
        const std::size_t amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        const std::size_t equals = pair.find('=');
        if (pair.substr(0, equals) != name) continue;
        const std::string_view raw =
            equals == std::string_view::npos ? std::string_view() : pair.substr(equals + 1);
        std::string value;
        for (std::size_t i = 0; i < raw.size(); ++i) {
            if (raw[i] == '+') {
                value += ' ';
            } else if (raw[i] == '%') {
                if (i + 2 >= raw.size()) return std::nullopt;
                const int high = hex(raw[i + 1]), low = hex(raw[i + 2]);
                if (high < 0 || low < 0) return std::nullopt;
                value += static_cast<char>(high * 16 + low);
                i += 2;
            } else {
                value += raw[i];
            }
            if (value.size() > max_bytes) return std::nullopt;
        }
        return value;
    }
    return std::nullopt;
}

} // namespace rollback
