// Reading whole files and secret files (tokens, secret headers, DSNs): one reader, one set of messages; the
// modes of the files the receiver keeps secrets in and writes its records to.
#include "common/files.hpp"

#include "common/text.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <memory>
#include <sys/stat.h>

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

Status check_not_writable_by_others(const std::string& path) {
    struct stat status {};
    if (::stat(path.c_str(), &status) != 0)
        return make_error("cannot read " + path + ": " + std::strerror(errno));
    if ((status.st_mode & (S_IWGRP | S_IWOTH)) == 0) return ok_status();
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(status.st_mode & 07777));
    return make_error(path + " is writable by " +
                      ((status.st_mode & S_IWOTH) != 0 ? "everyone" : "its group") + " (mode " + mode +
                      "); run chmod go-w " + path);
}

Status create_private_folders(const std::string& folder) {
    if (folder.empty()) return ok_status();
    std::filesystem::path partial;
    for (const auto& part : std::filesystem::path(folder)) {
        partial /= part;
        if (part == "/" || part.empty()) continue;
        if (::mkdir(partial.c_str(), 0700) == 0) {
            if (::chmod(partial.c_str(), 0700) != 0) // mkdir's mode passed through the umask
                return make_error("cannot set the mode of " + partial.string() + ": " + std::strerror(errno));
        } else if (errno != EEXIST) {
            return make_error("cannot create the folder " + partial.string() + ": " + std::strerror(errno));
        } else if (struct stat existing{};
                   ::stat(partial.c_str(), &existing) != 0 || !S_ISDIR(existing.st_mode)) {
            return make_error("cannot create the folder " + partial.string() + ": " + std::strerror(ENOTDIR));
        }
    }
    return ok_status();
}

Result<UniqueFd> open_private_file(const std::string& path, int flags) {
    UniqueFd created(::open(path.c_str(), flags | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (created.valid()) {
        if (::fchmod(created.get(), 0600) != 0) // open's mode passed through the umask
            return make_error("cannot set the mode of " + path + ": " + std::strerror(errno));
        return Result<UniqueFd>(std::move(created));
    }
    if (errno != EEXIST) return make_error("cannot open " + path + ": " + std::strerror(errno));
    UniqueFd existing(::open(path.c_str(), flags | O_CLOEXEC));
    if (!existing.valid()) return make_error("cannot open " + path + ": " + std::strerror(errno));
    return Result<UniqueFd>(std::move(existing));
}

} // namespace rollback
