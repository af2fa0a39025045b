// Where one HTTP/1.1 request ends in the bytes a client sent, and which request heads the listener refuses
// before any parser sees them; pure (no sockets), fed the growing bytes of one request at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rollback {

// The bounds of a request head. Each line counts with its CRLF.
inline constexpr std::size_t kMaxRequestLineBytes = 8 * 1024;    // more: 414
inline constexpr std::size_t kMaxHeaderLineBytes = 8 * 1024;     // one header line; more: 431
inline constexpr std::size_t kMaxHeaderSectionBytes = 64 * 1024; // header lines and the empty line; more: 431
inline constexpr std::size_t kMaxHeaderLines = 100;              // more: 431

struct FramingVerdict {
    enum class Kind {
        need_more, // not a whole request yet, nothing wrong so far
        complete,  // the first request_size() bytes are one request: its head and Content-Length body
        refused,   // answer `status` with `error`, read no further, close the connection
    };
    Kind kind = Kind::need_more;
    int status = 0;    // refused: 400, 411, 413, 414, 415 or 431
    std::string error; // refused: what is wrong and how to fix it, for the JSON error body
};

// Refused, each as soon as the bytes show it (a request line that is not one is refused at its first
// byte, an over-long line before its end arrives):
//   414 a request line over kMaxRequestLineBytes;
//   431 a header line over kMaxHeaderLineBytes, a header section over kMaxHeaderSectionBytes, or more than
//       kMaxHeaderLines header lines;
//   400 a line ending in a bare LF or a CR without LF; NUL or another control character (HTAB is allowed
//       in header values); a request line that does not start with a method token, or is empty; a header
//       line that starts with white space (obs-fold), has no colon, or a name that is not a token (white
//       space before the colon); a Content-Length that is not digits (negative, "1e3", "5, 5"); two
//       different Content-Lengths; Transfer-Encoding together with Content-Length;
//   411 Transfer-Encoding (chunked bodies are not read: bodies come with a Content-Length);
//   415 Content-Encoding other than identity (compressed bodies are not read);
//   413 a Content-Length over max_body_bytes, however many digits it has.
// A request without Content-Length has no body (RFC 9112 6.3), whatever its method.
class RequestFraming {
  public:
    explicit RequestFraming(std::size_t max_body_bytes) : max_body_bytes_(max_body_bytes) {}

    // Looks at the bytes of `received` it has not seen yet. `received` starts at the request's first byte
    // and only grows between calls (until reset()); bytes after the request are left alone (pipelining).
    FramingVerdict scan(std::string_view received);
    // Forgets the request, for the next one on the connection.
    void reset() { *this = RequestFraming(max_body_bytes_); }

    bool head_complete() const { return head_size_ != 0; }
    std::size_t head_size() const { return head_size_; } // 0 until the head is complete
    std::size_t body_size() const { return body_size_; } // the Content-Length, once the head is complete
    std::size_t request_size() const { return head_size_ + body_size_; }
    // The head asks for "100 Continue" before a body that has not been sent yet.
    bool expects_continue() const { return expect_continue_ && body_size_ > 0; }

  private:
    FramingVerdict refuse(int status, std::string error);
    FramingVerdict end_of_line(std::string_view line, std::size_t end);
    FramingVerdict header_line(std::string_view line);
    FramingVerdict end_of_head();

    std::size_t max_body_bytes_;
    std::size_t scanned_ = 0;       // bytes of the head looked at
    std::size_t line_start_ = 0;    // where the current line starts
    std::size_t headers_start_ = 0; // where the header section starts (after the request line)
    bool in_request_line_ = true;
    bool in_method_ = true; // no space seen yet in the request line
    bool after_cr_ = false; // the byte before scanned_ was a CR
    std::size_t header_lines_ = 0;
    std::size_t head_size_ = 0;
    std::size_t body_size_ = 0;
    bool refused_ = false;
    FramingVerdict refusal_;
    // What the head says about its body.
    std::size_t content_lengths_ = 0;
    std::uint64_t content_length_ = 0; // saturates at the largest value
    bool content_lengths_differ_ = false;
    bool bad_content_length_ = false; // a value that is not digits
    bool transfer_encoding_ = false;
    bool other_content_encoding_ = false; // one other than identity
    bool expect_continue_ = false;
};

} // namespace rollback
