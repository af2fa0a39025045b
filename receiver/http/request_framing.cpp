// RequestFraming: the bounds and framing rules of a request head, checked byte by byte as bytes arrive.
#include "http/request_framing.hpp"

#include <cstdio>
#include <limits>

namespace rollback {
namespace {

// RFC 9110 5.6.2: the characters of a token (a method, a header name).
bool is_token_char(unsigned char c) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
        return true;
    default:
        return false;
    }
}

bool equals_ignoring_case(std::string_view text, std::string_view lower_case) {
    if (text.size() != lower_case.size()) return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(text[i]);
        const char lower = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : static_cast<char>(c);
        if (lower != lower_case[i]) return false;
    }
    return true;
}

std::string_view trim_white_space(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
        text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
        text.remove_suffix(1);
    return text;
}

// 1*DIGIT, saturating at the largest value: a length of any number of digits is well formed (and over
// any limit once it is that large).
bool parse_length(std::string_view text, std::uint64_t& value) {
    if (text.empty()) return false;
    constexpr std::uint64_t kLargest = std::numeric_limits<std::uint64_t>::max();
    value = 0;
    for (const char c : text) {
        if (c < '0' || c > '9') return false;
        const auto digit = static_cast<std::uint64_t>(c - '0');
        value = value > (kLargest - digit) / 10 ? kLargest : value * 10 + digit;
    }
    return true;
}

} // namespace

FramingVerdict RequestFraming::refuse(int status, std::string error) {
    refused_ = true;
    refusal_ = {FramingVerdict::Kind::refused, status, std::move(error)};
    return refusal_;
}

FramingVerdict RequestFraming::scan(std::string_view received) {
    if (refused_) return refusal_;
    while (head_size_ == 0 && scanned_ < received.size()) {
        const std::size_t at = scanned_++;
        const auto c = static_cast<unsigned char>(received[at]);
        if (after_cr_) {
            after_cr_ = false;
            if (c != '\n') return refuse(400, "a CR without LF in the request head; end each line with CRLF");
            auto verdict = end_of_line(received.substr(line_start_, at - 1 - line_start_), at + 1);
            if (verdict.kind == FramingVerdict::Kind::refused) return verdict;
            continue;
        }
        if (c == '\r') {
            after_cr_ = true;
        } else if (c == '\n') {
            return refuse(400, "a line of the request head ends in LF without CR; end each line with CRLF");
        } else if (in_request_line_ && in_method_) {
            if (c == ' ' && at > line_start_) {
                in_method_ = false;
            } else if (!is_token_char(c)) {
                return refuse(400,
                              "not an HTTP/1.1 request: it must start with a method such as GET or POST");
            }
        } else if (c == 0) {
            return refuse(400, "a NUL byte in the request head");
        } else if (c == '\t') {
            if (in_request_line_)
                return refuse(400,
                              "a tab in the request line; separate method, target and version by spaces");
        } else if (c < 0x20 || c == 0x7f) {
            char error[64];
            std::snprintf(error, sizeof error, "control character 0x%02x in the request head", c);
            return refuse(400, error);
        }
        // The least each line and the head can end up as: the CRLF (and the empty line) still to come.
        const std::size_t least_line = at + 1 - line_start_ + (after_cr_ ? 1 : 2);
        if (in_request_line_) {
            if (least_line > kMaxRequestLineBytes)
                return refuse(414, "the request line is longer than 8 KiB; use a shorter URL");
            continue;
        }
        if (least_line > kMaxHeaderLineBytes)
            return refuse(431, "a header line is longer than 8 KiB; send shorter headers");
        const bool may_be_the_empty_line = at == line_start_ && c == '\r';
        const std::size_t least_section =
            line_start_ - headers_start_ + least_line + (may_be_the_empty_line ? 0 : 2);
        if (least_section > kMaxHeaderSectionBytes)
            return refuse(431, "the request headers are larger than 64 KiB; send fewer or shorter headers");
    }
    if (head_size_ == 0 || received.size() < request_size()) return {};
    return {FramingVerdict::Kind::complete, 0, {}};
}

FramingVerdict RequestFraming::end_of_line(std::string_view line, std::size_t end) {
    line_start_ = end;
    if (in_request_line_) {
        if (line.empty()) return refuse(400, "the request line is empty");
        if (in_method_)
            return refuse(400, "the request line has no target and version (METHOD /path HTTP/1.1)");
        in_request_line_ = false;
        headers_start_ = end;
        return {};
    }
    if (line.empty()) {
        head_size_ = end;
        return end_of_head();
    }
    return header_line(line);
}

FramingVerdict RequestFraming::header_line(std::string_view line) {
    if (++header_lines_ > kMaxHeaderLines)
        return refuse(431, "more than 100 header lines; send fewer headers");
    if (line.front() == ' ' || line.front() == '\t')
        return refuse(
            400,
            "a header line starts with white space (obsolete line folding); send each header on one line");
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return refuse(400, "a header line without a colon (Name: value)");
    const std::string_view name = line.substr(0, colon);
    bool token = !name.empty();
    for (const char c : name)
        token = token && is_token_char(static_cast<unsigned char>(c));
    if (!token)
        return refuse(400, "a header name that is not a token (letters, digits and !#$%&'*+-.^_`|~, nothing "
                           "between the name and its colon)");
    const std::string_view value = trim_white_space(line.substr(colon + 1));
    if (equals_ignoring_case(name, "content-length")) {
        std::uint64_t length = 0;
        if (!parse_length(value, length)) {
            bad_content_length_ = true;
        } else if (content_lengths_ > 0 && length != content_length_) {
            content_lengths_differ_ = true;
        }
        if (content_lengths_++ == 0) content_length_ = length;
    } else if (equals_ignoring_case(name, "transfer-encoding")) {
        transfer_encoding_ = true;
    } else if (equals_ignoring_case(name, "content-encoding")) {
        if (!value.empty() && !equals_ignoring_case(value, "identity")) other_content_encoding_ = true;
    } else if (equals_ignoring_case(name, "expect")) {
        if (equals_ignoring_case(value, "100-continue")) expect_continue_ = true;
    }
    return {};
}

FramingVerdict RequestFraming::end_of_head() {
    if (transfer_encoding_ && content_lengths_ > 0)
        return refuse(
            400, "Transfer-Encoding and Content-Length together; send the body with a Content-Length only");
    if (transfer_encoding_)
        return refuse(411, "Transfer-Encoding is not accepted; send the body with a Content-Length");
    if (bad_content_length_)
        return refuse(400, "Content-Length is not a number of bytes (digits only); send the body's length");
    if (content_lengths_differ_) return refuse(400, "two different Content-Length headers; send one");
    if (other_content_encoding_)
        return refuse(415, "Content-Encoding is not accepted; send the body uncompressed");
    if (content_length_ > max_body_bytes_)
        return refuse(413, "the body is larger than " + std::to_string(max_body_bytes_) +
                               " bytes; send a smaller request");
    body_size_ = static_cast<std::size_t>(content_length_);
    return {};
}

} // namespace rollback
