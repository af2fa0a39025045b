// A strict one-pass JSON scanner (see json_scan.hpp): the plain subset of JSON, read as nlohmann_json reads
// it.
#include "codec/json_scan.hpp"

namespace rollback {
namespace {

constexpr int kMaxDepth = 64;

// Recursive descent over [p_, end_); every method returns false to give up.
class Scanner {
  public:
    Scanner(std::string_view text, JsonEvents& events)
        : p_(text.data()), end_(text.data() + text.size()), events_(events) {}

    bool document() {
        skip_whitespace();
        if (!value(0)) return false;
        skip_whitespace();
        return p_ == end_;
    }

  private:
    // JSON's four whitespace characters, as nlohmann_json skips them.
    void skip_whitespace() {
        while (p_ != end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r'))
            ++p_;
    }

    bool value(int depth) {
        if (p_ == end_) return false;
        switch (*p_) {
        case '{':
            return object(depth + 1);
        case '[':
            return array(depth + 1);
        case '"':
            return string() && events_.string(buffer_);
        case 't':
            return literal("true") && events_.boolean(true);
        case 'f':
            return literal("false") && events_.boolean(false);
        case 'n':
            return literal("null") && events_.null();
        default:
            return number();
        }
    }

    bool object(int depth) {
        if (depth > kMaxDepth || !events_.start_object()) return false;
        ++p_;
        skip_whitespace();
        if (p_ != end_ && *p_ == '}') {
            ++p_;
            return events_.end_object();
        }
        while (true) {
            if (p_ == end_ || *p_ != '"' || !string() || !events_.key(buffer_)) return false;
            skip_whitespace();
            if (p_ == end_ || *p_ != ':') return false;
            ++p_;
            skip_whitespace();
            if (!value(depth)) return false;
            const Next next = after_member('}');
            if (next == Next::bad) return false;
            if (next == Next::closed) return events_.end_object();
        }
    }

    bool array(int depth) {
        if (depth > kMaxDepth || !events_.start_array()) return false;
        ++p_;
        skip_whitespace();
        if (p_ != end_ && *p_ == ']') {
            ++p_;
            return events_.end_array();
        }
        while (true) {
            if (!value(depth)) return false;
            const Next next = after_member(']');
            if (next == Next::bad) return false;
            if (next == Next::closed) return events_.end_array();
        }
    }

    enum class Next { more, closed, bad };

    // After a member or element: a comma (and the whitespace after it) or the closing bracket, consumed.
    Next after_member(char closing) {
        skip_whitespace();
        if (p_ == end_) return Next::bad;
        if (*p_ == ',') {
            ++p_;
            skip_whitespace();
            return Next::more;
        }
        if (*p_ != closing) return Next::bad;
        ++p_;
        return Next::closed;
    }

    bool literal(std::string_view word) {
        if (static_cast<std::size_t>(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word)
            return false;
        p_ += word.size();
        return true;
    }

    // Whole numbers 0 to 18 digits without a leading zero; anything else (a sign, a fraction, an exponent)
    // is left to nlohmann_json.
    bool number() {
        const char* start = p_;
        while (p_ != end_ && *p_ >= '0' && *p_ <= '9')
            ++p_;
        const auto digits = p_ - start;
        if (digits == 0 || digits > 18 || (digits > 1 && *start == '0')) return false;
        if (p_ != end_ && (*p_ == '.' || *p_ == 'e' || *p_ == 'E')) return false;
        std::uint64_t number = 0;
        for (const char* digit = start; digit != p_; ++digit)
            number = number * 10 + static_cast<std::uint64_t>(*digit - '0');
        return events_.number_unsigned(number);
    }

    // A string at the opening quote, decoded into buffer_.
    bool string() {
        ++p_;
        buffer_.clear();
        while (true) {
            const char* run = p_; // plain ASCII up to a quote, a backslash, a control or a non-ASCII byte
            while (p_ != end_) {
                const auto c = static_cast<unsigned char>(*p_);
                if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
                ++p_;
            }
            buffer_.append(run, p_);
            if (p_ == end_) return false;
            const auto c = static_cast<unsigned char>(*p_);
            if (c == '"') {
                ++p_;
                return true;
            }
            if (c < 0x20) return false; // control characters must be escaped
            if (!(c == '\\' ? escape() : utf8_sequence())) return false;
        }
    }

    bool escape() {
        ++p_;
        if (p_ == end_) return false;
        switch (*p_++) {
        case '"':
            buffer_ += '"';
            return true;
        case '\\':
            buffer_ += '\\';
            return true;
        case '/':
            buffer_ += '/';
            return true;
        case 'b':
            buffer_ += '\b';
            return true;
        case 'f':
            buffer_ += '\f';
            return true;
        case 'n':
            buffer_ += '\n';
            return true;
        case 'r':
            buffer_ += '\r';
            return true;
        case 't':
            buffer_ += '\t';
            return true;
        case 'u':
            break;
        default:
            return false;
        }
        std::uint32_t code = 0;
        if (!hex4(code)) return false;
        if (code >= 0xD800 && code <= 0xDBFF) { // a high surrogate: a low one must follow
            std::uint32_t low = 0;
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
            p_ += 2;
            if (!hex4(low) || low < 0xDC00 || low > 0xDFFF) return false;
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
        } else if (code >= 0xDC00 && code <= 0xDFFF) {
            return false; // a low surrogate alone
        }
        append_utf8(code);
        return true;
    }

    bool hex4(std::uint32_t& code) {
        if (end_ - p_ < 4) return false;
        for (int i = 0; i < 4; ++i, ++p_) {
            const char c = *p_;
            std::uint32_t digit = 0;
            if (c >= '0' && c <= '9') {
                digit = static_cast<std::uint32_t>(c - '0');
            } else if (c >= 'a' && c <= 'f') {
                digit = static_cast<std::uint32_t>(c - 'a' + 10);
            } else if (c >= 'A' && c <= 'F') {
                digit = static_cast<std::uint32_t>(c - 'A' + 10);
            } else {
                return false;
            }
            code = code * 16 + digit;
        }
        return true;
    }

    void append_utf8(std::uint32_t code) {
        if (code < 0x80) {
            buffer_ += static_cast<char>(code);
        } else if (code < 0x800) {
            buffer_ += static_cast<char>(0xC0 | (code >> 6));
            buffer_ += static_cast<char>(0x80 | (code & 0x3F));
        } else if (code < 0x10000) {
            buffer_ += static_cast<char>(0xE0 | (code >> 12));
            buffer_ += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
            buffer_ += static_cast<char>(0x80 | (code & 0x3F));
        } else {
            buffer_ += static_cast<char>(0xF0 | (code >> 18));
            buffer_ += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
            buffer_ += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
            buffer_ += static_cast<char>(0x80 | (code & 0x3F));
        }
    }

    // One well-formed UTF-8 sequence of 2 to 4 bytes (Unicode's table 3-7: no overlong forms, no
    // surrogates, nothing above U+10FFFF), copied as it is.
    bool utf8_sequence() {
        const auto* bytes = reinterpret_cast<const unsigned char*>(p_);
        const unsigned char lead = bytes[0];
        int length = 0;
        unsigned char second_low = 0x80;
        unsigned char second_high = 0xBF;
        if (lead >= 0xC2 && lead <= 0xDF) {
            length = 2;
        } else if (lead == 0xE0) {
            length = 3;
            second_low = 0xA0;
        } else if ((lead >= 0xE1 && lead <= 0xEC) || lead == 0xEE || lead == 0xEF) {
            length = 3;
        } else if (lead == 0xED) {
            length = 3;
            second_high = 0x9F;
        } else if (lead == 0xF0) {
            length = 4;
            second_low = 0x90;
        } else if (lead >= 0xF1 && lead <= 0xF3) {
            length = 4;
        } else if (lead == 0xF4) {
            length = 4;
            second_high = 0x8F;
        } else {
            return false;
        }
        if (end_ - p_ < length) return false;
        if (bytes[1] < second_low || bytes[1] > second_high) return false;
        for (int i = 2; i < length; ++i)
            if (bytes[i] < 0x80 || bytes[i] > 0xBF) return false;
        buffer_.append(p_, static_cast<std::size_t>(length));
        p_ += length;
        return true;
    }

    const char* p_;
    const char* end_;
    JsonEvents& events_;
    std::string buffer_; // the string or key being read
};

} // namespace

bool scan_json(std::string_view text, JsonEvents& events) {
    return Scanner(text, events).document();
}

} // namespace rollback
