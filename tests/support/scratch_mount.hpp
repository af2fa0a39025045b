// ScratchMount: a small file system mounted on a test's folder (tmpfs, or ext4 on a loop device) so that a
// test can fill the ledger's disk or turn it read-only; needs root; unmounted by the destructor.
#pragma once

#include "support/child_process.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace rollback::testing {

class ScratchMount {
  public:
    // A tmpfs of `size_bytes` on `dir` (created); nullptr and `why_not` when mounting is not permitted.
    static std::unique_ptr<ScratchMount> tmpfs(const std::string& dir, std::size_t size_bytes,
                                               std::string& why_not) {
        std::filesystem::create_directories(dir);
        const std::string options = "size=" + std::to_string(size_bytes) + ",mode=0755";
        if (::mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
            why_not = "mount -t tmpfs on " + dir + " failed: " + std::strerror(errno) +
                      (::geteuid() != 0 ? " (not root)" : "");
            return nullptr;
        }
        return std::unique_ptr<ScratchMount>(new ScratchMount(dir, ""));
    }

    // An ext4 file system in the file `image` (`size_bytes`, created), mounted through a loop device on
    // `dir` with errors=remount-ro; nullptr and `why_not` when the tools, loop devices or root are missing.
    static std::unique_ptr<ScratchMount> ext4(const std::string& image, const std::string& dir,
                                              std::size_t size_bytes, std::string& why_not) {
        { std::ofstream file(image, std::ios::binary); }
        std::filesystem::resize_file(image, size_bytes);
        const std::string mkfs = first_existing({"/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4"});
        if (mkfs.empty()) {
            why_not = "mkfs.ext4 is not installed";
            return nullptr;
        }
        if (run({mkfs, "-q", "-F", image}, image + ".log") != 0) {
            why_not = "mkfs.ext4 failed: " + read(image + ".log");
            return nullptr;
        }
        return ext4_existing(image, dir, why_not);
    }

    // Mounts the ext4 file system already in `image` again (its journal replayed), read-write.
    static std::unique_ptr<ScratchMount> ext4_existing(const std::string& image, const std::string& dir,
                                                       std::string& why_not) {
        std::filesystem::create_directories(dir);
        const std::string mount_tool = first_existing({"/usr/bin/mount", "/bin/mount"});
        if (mount_tool.empty()) {
            why_not = "mount is not installed";
            return nullptr;
        }
        if (run({mount_tool, "-o", "loop,errors=remount-ro", image, dir}, image + ".log") != 0) {
            why_not = "mount -o loop failed (no loop devices here?): " + read(image + ".log");
            return nullptr;
        }
        return std::unique_ptr<ScratchMount>(new ScratchMount(dir, device_of(dir)));
    }

    ~ScratchMount() {
        if (::umount2(dir_.c_str(), 0) != 0) ::umount2(dir_.c_str(), MNT_DETACH); // busy: detach it
    }
    ScratchMount(const ScratchMount&) = delete;
    ScratchMount& operator=(const ScratchMount&) = delete;

    const std::string& dir() const { return dir_; }

    // Writes the file `name` until the file system is full; returns the bytes written.
    std::size_t fill_with(const std::string& name) const {
        const std::string path = dir_ + "/" + name;
        const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) return 0;
        const std::string block(4096, 'f');
        std::size_t written = 0;
        while (true) {
            const ssize_t count = ::write(fd, block.data(), block.size());
            if (count <= 0) break;
            written += static_cast<std::size_t>(count);
        }
        ::close(fd);
        return written;
    }

    // Free bytes for a root writer (statvfs f_bfree).
    std::size_t free_bytes() const {
        std::error_code ignored;
        return static_cast<std::size_t>(std::filesystem::space(dir_, ignored).free);
    }

    // ext4 only: the kernel records a file-system error, and errors=remount-ro makes the mount read-only at
    // once, with files still open for writing (a plain `mount -o remount,ro` refuses while they are).
    bool force_read_only(std::string& why_not) const {
        if (device_.empty()) {
            why_not = "not an ext4 loop mount";
            return false;
        }
        const std::string trigger = "/sys/fs/ext4/" + device_ + "/trigger_fs_error";
        std::ofstream out(trigger);
        out << "rollback-receiver fault test\n";
        out.flush();
        if (!out) {
            why_not = "cannot write " + trigger;
            return false;
        }
        return true;
    }

  private:
    ScratchMount(std::string dir, std::string device) : dir_(std::move(dir)), device_(std::move(device)) {}

    static std::string first_existing(const std::vector<std::string>& paths) {
        for (const auto& path : paths)
            if (std::filesystem::exists(path)) return path;
        return "";
    }
    static int run(std::vector<std::string> argv, const std::string& log) {
        ChildOptions options;
        options.stdout_path = log;
        options.stderr_path = log;
        ChildProcess process(std::move(argv), options);
        return process.wait(std::chrono::seconds(60));
    }
    static std::string read(const std::string& path) {
        std::ifstream in(path);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }
    // "loop3" for the loop device mounted on `dir` (from /proc/self/mountinfo).
    static std::string device_of(const std::string& dir) {
        const std::string wanted = std::filesystem::canonical(dir).string();
        std::ifstream mounts("/proc/self/mountinfo");
        std::string device;
        for (std::string line; std::getline(mounts, line);) {
            std::istringstream fields(line);
            std::string id, parent, numbers, root, mount_point;
            fields >> id >> parent >> numbers >> root >> mount_point;
            if (mount_point != wanted) continue;
            const auto separator = line.find(" - ");
            if (separator == std::string::npos) continue;
            std::istringstream tail(line.substr(separator + 3));
            std::string type, source;
            tail >> type >> source;
            if (type == "ext4") device = source.substr(source.rfind('/') + 1); // the last mount wins
        }
        return device;
    }

    std::string dir_;
    std::string device_; // "loop3" for ext4, "" for tmpfs
};

} // namespace rollback::testing
