// Reading whole files and secret files (tokens, secret headers, DSNs): one reader, one set of messages.
#include "common/files.hpp"

#include "common/text.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace rollback {
namespace {

struct FileCloser {
    void operator()(std::FILE* file) const { std::fclose(file); }
};
using FileHandle = std::unique_ptr<std::FILE, FileCloser>;

} // namespace

Result<std::string> read_file(const std::string& path) {
    const FileHandle file(std::fopen(path.c_str(), "rb"));
    if (!file) return make_error("cannot read " + path + ": " + std::strerror(errno));
    std::string content;
    char buffer[8192];
    while (true) {
        const std::size_t count = std::fread(buffer, 1, sizeof buffer, file.get());
        content.append(buffer, count);
        if (count < sizeof buffer) break;
    }
    if (std::ferror(file.get())) return make_error("cannot read " + path + ": " + std::strerror(errno));
    return content;
}

Result<std::string> read_secret_file(const std::string& path) {
    auto content = read_file(path);
    if (!content) return content;
    const std::string_view trimmed = trim(*content);
    if (trimmed.empty()) return make_error(path + " is empty; put the secret in it");
    if (trimmed.find_first_of("\r\n") != std::string_view::npos)
        return make_error(path + " holds more than one line; put only the secret in it");
    return std::string(trimmed);
}

} // namespace rollback
