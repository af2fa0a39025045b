// Audit trail fan-out: ledger row first (the record of truth), then the JSON-lines file and the log.
#include "audit/audit.hpp"

#include "codec/codec.hpp"
#include "common/files.hpp"
#include "ops/logging.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <unistd.h>

namespace rollback {

AuditTrail::AuditTrail(Ledger& ledger, Metrics& metrics) : ledger_(ledger), metrics_(metrics) {}

Status AuditTrail::set_file(const std::string& path) {
    std::lock_guard lock(file_mutex_);
    if (path == file_path_) return ok_status();
    UniqueFd fd;
    if (!path.empty()) {
        // Private like the ledger it copies: the folder 0700 and the file 0600 when created, whatever the
        // umask.
        const std::string folder = std::filesystem::path(path).parent_path().string();
        if (auto created = create_private_folders(folder); !created)
            return make_error("audit.file: " + created.error());
        auto opened = open_private_file(path, O_WRONLY | O_APPEND);
        if (!opened) return make_error("audit.file: " + opened.error());
        fd = std::move(*opened);
    }
    file_ = std::move(fd);
    file_path_ = path;
    return ok_status();
}

Result<bool> AuditTrail::record(const AuditEvent& event, const std::string& dedupe_key) {
    if (is_known_repeat(event.event, event.reason, dedupe_key)) return false;
    AuditEvent stored = event;
    bool written = false;
    auto appended = ledger_.write("appending audit event", [&](LedgerTransaction& transaction) -> Status {
        auto appended_now = transaction.append_audit(stored, dedupe_key);
        if (!appended_now) return Error{appended_now.error()};
        written = *appended_now;
        return ok_status();
    });
    if (!appended) {
        log_error(
            "audit event could not be written to the ledger",
            {{"event", event.event}, {"deployment_id", event.deployment_id}, {"err", appended.error()}});
        return Error{appended.error()};
    }
    if (!dedupe_key.empty()) recent_keys_.remember(dedupe_key); // written now, or found written before
    if (!written) {
        metrics_.audit_repeats.add({event.event, event.reason});
        return false;
    }
    publish(stored);
    return true;
}

bool AuditTrail::is_known_repeat(std::string_view event, std::string_view reason,
                                 const std::string& dedupe_key) {
    if (dedupe_key.empty() || !recent_keys_.contains(dedupe_key)) return false;
    metrics_.audit_repeats.add({std::string(event), std::string(reason)});
    return true;
}

void AuditTrail::publish(const AuditEvent& event) {
    log_info("audit", {{"event", event.event},
                       {"service", event.service},
                       {"environment", event.environment},
                       {"deployment_id", event.deployment_id},
                       {"version", event.version},
                       {"previous_version", event.previous_version},
                       {"alertname", event.alertname},
                       {"reason", event.reason}});
    std::lock_guard lock(file_mutex_);
    if (file_.valid()) {
        const std::string line = encode_audit_event(event) + "\n";
        // One write() of the whole line: O_APPEND keeps concurrent lines whole.
        if (::write(file_.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()))
            log_error("audit line could not be appended",
                      {{"file", file_path_}, {"err", std::strerror(errno)}});
    }
}

} // namespace rollback
