// JSON codecs built on nlohmann_json: parse with field-naming errors, encode API and audit documents.
#include "codec/codec.hpp"

#include "codec/json_scan.hpp"
#include "config/placeholders.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <variant>

namespace rollback {
namespace {

using json = nlohmann::json;

const char* type_name(const json& value) {
    return value.type_name();
}

Result<json> parse_json(std::string_view body) {
    try {
        json value = json::parse(body.begin(), body.end());
        if (!value.is_object())
            return make_error(std::string("the body must be a JSON object, not ") + type_name(value));
        return value;
    } catch (const json::parse_error& error) {
        // nlohmann's message names the byte offset and what was expected.
        std::string what = error.what();
        const auto colon = what.find("parse error");
        return make_error("malformed JSON: " + (colon == std::string::npos ? what : what.substr(colon)));
    } catch (const json::exception& error) {
        // e.g. out_of_range.406 for a number too large for a double ("1e400"): still a bad body.
        std::string what = error.what();
        const auto bracket = what.find("] ");
        return make_error("malformed JSON: " +
                          (bracket == std::string::npos ? what : what.substr(bracket + 2)));
    }
}

Error expected(std::string_view field, std::string_view what, const json& got) {
    return make_error(std::string(field) + ": expected " + std::string(what) + ", got " + type_name(got));
}

// Reads an optional string field; absent or null leaves `out` as it is.
Status read_string(const json& object, const char* key, std::string& out, const std::string& path) {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) return ok_status();
    if (!it->is_string()) return expected(path + key, "a string", *it);
    out = it->get<std::string>();
    return ok_status();
}

Status read_string_map(const json& object, const char* key, std::map<std::string, std::string>& out,
                       const std::string& path) {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) return ok_status();
    if (!it->is_object()) return expected(path + key, "an object of strings", *it);
    for (const auto& [name, value] : it->items()) {
        if (!value.is_string()) return expected(path + key + "." + name, "a string", value);
        out[name] = value.get<std::string>();
    }
    return ok_status();
}

Status read_time(const json& object, const char* key, TimePoint& out, const std::string& path,
                 bool required) {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) {
        if (required) return make_error(path + key + ": missing; expected an RFC 3339 time");
        return ok_status();
    }
    if (!it->is_string()) return expected(path + key, "an RFC 3339 time string", *it);
    auto parsed = parse_rfc3339(it->get<std::string>());
    if (!parsed) return make_error(path + key + ": " + parsed.error());
    out = *parsed;
    return ok_status();
}

std::string canonical_request_json(const DeploymentRequest& request) {
    json key = json::object();
    auto put = [&](const char* name, const std::string& value) {
        if (!value.empty()) key[name] = value;
    };
    put("id", request.id);
    put("service", request.service);
    put("version", request.version);
    put("previous_version", request.previous_version);
    put("environment", request.environment);
    if (request.deployed_at) key["deployed_at"] = format_rfc3339_ms(*request.deployed_at);
    put("commit", request.commit);
    put("url", request.url);
    put("actor", request.actor);
    return key.dump(); // object keys are sorted: the text is canonical
}

json deployment_json(const Deployment& deployment, DeploymentState state) {
    json out = {
        {"id", deployment.id},
        {"service", deployment.service},
        {"environment", deployment.environment},
        {"version", deployment.version},
        {"previous_version", deployment.previous_version},
        {"deployed_at", format_rfc3339_ms(deployment.deployed_at)},
        {"recorded_at", format_rfc3339_ms(deployment.recorded_at)},
        {"commit", deployment.commit},
        {"url", deployment.url},
        {"actor", deployment.actor},
        {"kind", std::string(to_string(deployment.kind))},
        {"state", std::string(to_string(state))},
    };
    if (!deployment.rollback_of.empty()) out["rollback_of"] = deployment.rollback_of;
    return out;
}

// The event's fields but `detail`: encode_audit_event adds that as the text it already is.
json audit_json_without_detail(const AuditEvent& event) {
    return json{
        {"sequence", event.sequence},
        {"time", format_rfc3339_ms(event.time)},
        {"event", event.event},
        {"service", event.service},
        {"environment", event.environment},
        {"deployment_id", event.deployment_id},
        {"version", event.version},
        {"previous_version", event.previous_version},
        {"alertname", event.alertname},
        {"fingerprint", event.fingerprint},
        {"reason", event.reason},
        {"instance", event.instance},
    };
}

std::string dump(const json& value) {
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool has_control_characters(std::string_view text) {
    return !check_no_control_characters(text).ok();
}

// Rejects fields outside `known`, naming the first unknown one.
Status check_known_fields(const json& root, const std::vector<std::string>& known) {
    for (const auto& [key, value] : root.items()) {
        if (std::find(known.begin(), known.end(), key) != known.end()) continue;
        std::string list;
        for (const auto& name : known)
            list += (list.empty() ? "" : ", ") + name;
        return make_error(key + ": unknown field (known: " + list + ")");
    }
    return ok_status();
}

} // namespace

// ---- Alertmanager's webhook payload: its schema once, and the two readers that follow it ----

namespace {

// Alertmanager's label-set fingerprint: FNV-1a 64 over sorted names and values, 0xff separated.
std::string fingerprint_of(const std::map<std::string, std::string>& labels) {
    std::uint64_t hash = 14695981039346656037ULL;
    auto add = [&](std::string_view bytes) {
        for (unsigned char c : bytes) {
            hash ^= c;
            hash *= 1099511628211ULL;
        }
    };
    const std::string separator(1, '\xff');
    for (const auto& [name, value] : labels) { // std::map iterates sorted by name
        add(name);
        add(separator);
        add(value);
        add(separator);
    }
    char buffer[17];
    std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(hash));
    return buffer;
}

// What a field holds: the alternatives of WebhookField::Member, in order.
enum class WebhookKind : std::size_t { text, string_map, time, count, alerts };

// One field of the payload or of one of its alerts. Both readers take the names, types, required
// fields and checks from the tables below, in their order (the document reader names the first field
// that is wrong in that order). A null reads as an absent field, except as text (it reads as "") and as
// the list of alerts (an error).
template <typename Record> struct WebhookField {
    using Member = std::variant<std::string Record::*, std::map<std::string, std::string> Record::*,
                                TimePoint Record::*, long Record::*, std::vector<Alert> Record::*>;
    const char* name;
    Member member;                 // text, an object of strings, an RFC 3339 time, 0 to LONG_MAX, alerts
    const char* missing = nullptr; // set: the field is required, and this follows "<field>: missing; "
    Status (*check)(const std::string& value) = nullptr; // text: the values accepted
    // An object of strings: the sizes accepted. The error follows "<field>", so it starts with ".<name>: "
    // (one entry) or ": " (the whole object).
    Status (*check_map)(const std::map<std::string, std::string>& entries) = nullptr;
    WebhookKind kind() const { return static_cast<WebhookKind>(member.index()); }
};

// The member of `record` that `field` fills, which holds a WebhookKind K.
template <WebhookKind K, typename Record> auto& member_of(const WebhookField<Record>& field, Record& record) {
    return record.*std::get<static_cast<std::size_t>(K)>(field.member);
}
template <WebhookKind K, typename Record>
const auto& member_of(const WebhookField<Record>& field, const Record& record) {
    return record.*std::get<static_cast<std::size_t>(K)>(field.member);
}

constexpr const char* kVersionHint = "this receiver reads Alertmanager's webhook payload version \"4\"";

Status check_version(const std::string& version) {
    if (version == "4") return ok_status();
    return make_error("\"" + version + "\" is not supported; " + kVersionHint);
}

Status check_alert_status(const std::string& status) {
    if (status == "firing" || status == "resolved") return ok_status();
    return make_error("expected \"firing\" or \"resolved\", got \"" + status + "\"");
}

// An alert's fingerprint goes into the trail, the de-duplication keys and ROLLBACK_FINGERPRINT: Alertmanager
// sends 16 hexadecimal digits; absent or "" it is computed from the labels.
Status check_fingerprint(const std::string& fingerprint) {
    const bool hex = std::all_of(fingerprint.begin(), fingerprint.end(),
                                 [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
    if (fingerprint.size() <= kMaxWebhookFingerprint && hex) return ok_status();
    return make_error("expected at most " + std::to_string(kMaxWebhookFingerprint) +
                      " lowercase hexadecimal digits (Alertmanager sends 16), got " +
                      std::to_string(fingerprint.size()) + " characters" +
                      (hex ? "" : " that are not all [0-9a-f]"));
}

// The sizes of a label set or of annotations: entries, names and values (in bytes).
Status check_string_map(const std::map<std::string, std::string>& entries, std::size_t max_value,
                        const char* what) {
    if (entries.size() > kMaxWebhookMapEntries)
        return make_error(": " + std::to_string(entries.size()) + " entries, more than the " +
                          std::to_string(kMaxWebhookMapEntries) + " this receiver takes");
    for (const auto& [name, value] : entries) {
        if (name.size() > kMaxWebhookName)
            return make_error(": a name of " + std::to_string(name.size()) + " bytes, longer than the " +
                              std::to_string(kMaxWebhookName) + " this receiver takes");
        if (value.size() > max_value)
            return make_error("." + name + ": " + std::to_string(value.size()) + " bytes, longer than the " +
                              std::to_string(max_value) + " " + what + " may have");
    }
    return ok_status();
}
Status check_labels(const std::map<std::string, std::string>& labels) {
    return check_string_map(labels, kMaxWebhookLabelValue, "a label value");
}
Status check_annotations(const std::map<std::string, std::string>& annotations) {
    return check_string_map(annotations, kMaxWebhookAnnotationValue, "an annotation value");
}

const std::array<WebhookField<Notification>, 10> kWebhookFields{{
    {"version", &Notification::version, kVersionHint, check_version},
    {"alerts", &Notification::alerts, "expected a list of alerts"},
    {"receiver", &Notification::receiver},
    {"status", &Notification::status},
    {"groupLabels", &Notification::group_labels, nullptr, nullptr, check_labels},
    {"commonLabels", &Notification::common_labels, nullptr, nullptr, check_labels},
    {"commonAnnotations", &Notification::common_annotations, nullptr, nullptr, check_annotations},
    {"externalURL", &Notification::external_url},
    {"groupKey", &Notification::group_key},
    {"truncatedAlerts", &Notification::truncated_alerts},
}};

const std::array<WebhookField<Alert>, 7> kAlertFields{{
    {"status", &Alert::status, nullptr, check_alert_status},
    {"labels", &Alert::labels, nullptr, nullptr, check_labels},
    {"annotations", &Alert::annotations, nullptr, nullptr, check_annotations},
    {"startsAt", &Alert::starts_at, "expected an RFC 3339 time"},
    {"endsAt", &Alert::ends_at},
    {"generatorURL", &Alert::generator_url},
    {"fingerprint", &Alert::fingerprint, nullptr, check_fingerprint},
}};

constexpr unsigned kMaxFields = 32; // the readers keep one bit per field
static_assert(kWebhookFields.size() <= kMaxFields && kAlertFields.size() <= kMaxFields);

// What both readers do after the fields of an alert: a missing fingerprint (hand-written payloads) is
// computed from the labels, as Alertmanager does.
void finish_alert(Alert& alert) {
    if (alert.fingerprint.empty()) alert.fingerprint = fingerprint_of(alert.labels);
}

// ---- the document reader: nlohmann_json's document, then the tables; the errors name the field ----

Result<Alert> read_alert(const json& value, const std::string& path);

// Reads an optional whole number from 0 to LONG_MAX; absent or null leaves `out` as it is.
Status read_count(const json& object, const char* key, long& out, const std::string& path) {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) return ok_status();
    if (!it->is_number_integer() ||
        (it->is_number_unsigned() ? it->get<std::uint64_t>() > LONG_MAX : it->get<std::int64_t>() < 0))
        return expected(path + key, "a whole number from 0 up", *it);
    out = it->get<long>();
    return ok_status();
}

// Reads the list of alerts; absent leaves `out` as it is, null is not a list.
Status read_alerts(const json& object, const char* key, std::vector<Alert>& out, const std::string& path) {
    auto it = object.find(key);
    if (it == object.end()) return ok_status();
    if (!it->is_array()) return expected(path + key, "a list of alerts", *it);
    for (std::size_t i = 0; i < it->size(); ++i) {
        auto alert = read_alert((*it)[i], path + key + "[" + std::to_string(i) + "]");
        if (!alert) return Error{alert.error()};
        out.push_back(std::move(*alert));
    }
    return ok_status();
}

template <typename Record>
Status read_field(const json& object, const WebhookField<Record>& field, Record& record,
                  const std::string& path) {
    if (field.missing != nullptr) {
        const auto it = object.find(field.name);
        const bool null_is_absent = field.kind() != WebhookKind::text && field.kind() != WebhookKind::alerts;
        if (it == object.end() || (it->is_null() && null_is_absent))
            return make_error(path + field.name + ": missing; " + field.missing);
    }
    switch (field.kind()) {
    case WebhookKind::text:
        return read_string(object, field.name, member_of<WebhookKind::text>(field, record), path);
    case WebhookKind::string_map:
        return read_string_map(object, field.name, member_of<WebhookKind::string_map>(field, record), path);
    case WebhookKind::time:
        return read_time(object, field.name, member_of<WebhookKind::time>(field, record), path, false);
    case WebhookKind::count:
        return read_count(object, field.name, member_of<WebhookKind::count>(field, record), path);
    case WebhookKind::alerts:
        return read_alerts(object, field.name, member_of<WebhookKind::alerts>(field, record), path);
    }
    return ok_status();
}

// The fields in the table's order: the error names the first one that is wrong.
template <typename Record, std::size_t N>
Status read_fields(const json& object, const std::array<WebhookField<Record>, N>& fields, Record& record,
                   const std::string& path) {
    for (const WebhookField<Record>& field : fields) {
        if (auto read = read_field(object, field, record, path); !read) return read;
        if (field.check != nullptr) {
            if (auto checked = field.check(member_of<WebhookKind::text>(field, record)); !checked)
                return make_error(path + field.name + ": " + checked.error());
        }
        if (field.check_map != nullptr) {
            if (auto checked = field.check_map(member_of<WebhookKind::string_map>(field, record)); !checked)
                return make_error(path + field.name + checked.error());
        }
    }
    return ok_status();
}

Result<Alert> read_alert(const json& value, const std::string& path) {
    if (!value.is_object()) return expected(path, "an alert object", value);
    Alert alert;
    if (auto read = read_fields(value, kAlertFields, alert, path + "."); !read) return Error{read.error()};
    finish_alert(alert);
    return alert;
}

// ---- the one-pass reader: the tables applied to scan_json's events, no document in between ----

// Whether a record whose fields `present` (one bit per table row) were given has its required fields
// and passes the checks.
template <typename Record, std::size_t N>
bool complete(const std::array<WebhookField<Record>, N>& fields, const Record& record, unsigned present) {
    for (std::size_t i = 0; i < N; ++i) {
        const WebhookField<Record>& field = fields[i];
        if (field.missing != nullptr && (present & (1U << i)) == 0) return false;
        if (field.check != nullptr && !field.check(member_of<WebhookKind::text>(field, record))) return false;
        if (field.check_map != nullptr && !field.check_map(member_of<WebhookKind::string_map>(field, record)))
            return false;
    }
    return true;
}

// The row of `fields` named `name`, or kUnknownField.
constexpr std::size_t kUnknownField = kMaxFields;
template <typename Record, std::size_t N>
std::size_t field_index(const std::array<WebhookField<Record>, N>& fields, std::string_view name) {
    for (std::size_t i = 0; i < N; ++i)
        if (name == fields[i].name) return i;
    return kUnknownField;
}

// Builds a Notification while scan_json reads the body: no JSON document in between, and no nlohmann
// lexer, which took most of the parsing time. It accepts only bodies that the document reader reads to
// the same Notification, and gives up (an event returns false) on anything else: what scan_json does not
// read, a wrong type, a null where the document reader objects, a repeated field (the document keeps
// the last), a value out of range, a missing field, a failed check. Then the document reader decides
// and names the field.
class StreamingWebhookReader final : public JsonEvents {
  public:
    bool null() override {
        if (skipping()) return true;
        return on_field([](const auto& field, auto& record, unsigned&) {
            if (field.kind() == WebhookKind::text)
                member_of<WebhookKind::text>(field, record).clear(); // null reads as ""
            return field.kind() != WebhookKind::alerts;              // else absent: `present` stays unset
        });
    }
    bool boolean(bool) override { return skipping(); }
    bool number_unsigned(std::uint64_t value) override {
        if (skipping()) return true;
        return on_field([&](const auto& field, auto& record, unsigned& present) {
            if (field.kind() != WebhookKind::count || value > static_cast<std::uint64_t>(LONG_MAX))
                return false;
            member_of<WebhookKind::count>(field, record) = static_cast<long>(value);
            present |= 1U << field_;
            return true;
        });
    }
    bool string(std::string& value) override {
        if (skipping()) return true;
        if (where_ == Where::string_map) {
            (*map_)[map_key_] = std::move(value);
            return true;
        }
        return on_field([&](const auto& field, auto& record, unsigned& present) {
            if (field.kind() == WebhookKind::text) {
                member_of<WebhookKind::text>(field, record) = std::move(value);
            } else if (field.kind() == WebhookKind::time) {
                auto parsed = parse_rfc3339(value);
                if (!parsed) return false;
                member_of<WebhookKind::time>(field, record) = *parsed;
            } else {
                return false;
            }
            present |= 1U << field_;
            return true;
        });
    }

    bool start_object() override {
        if (skipping()) return ++skipping_, true;
        switch (where_) {
        case Where::before:
            where_ = Where::root;
            return true;
        case Where::alerts:
            alert_ = Alert{};
            alert_seen_ = 0;
            alert_present_ = 0;
            where_ = Where::alert;
            return true;
        default:
            return on_field([&](const auto& field, auto& record, unsigned& present) {
                if (field.kind() != WebhookKind::string_map) return false;
                map_ = &member_of<WebhookKind::string_map>(field, record);
                present |= 1U << field_;
                map_parent_ = where_;
                where_ = Where::string_map;
                return true;
            });
        }
    }
    bool key(std::string& name) override {
        if (skipping_ > 0) return true;
        if (where_ == Where::string_map) {
            map_key_ = std::move(name);
            return true;
        }
        // Keys come only in the root, an alert and a string map (any other object is given up on).
        const bool root = where_ == Where::root;
        field_ = root ? field_index(kWebhookFields, name) : field_index(kAlertFields, name);
        if (field_ == kUnknownField) return true;
        unsigned& seen = root ? root_seen_ : alert_seen_;
        const unsigned bit = 1U << field_;
        if ((seen & bit) != 0) return false; // repeated: the document reader keeps the last one
        seen |= bit;
        return true;
    }
    bool end_object() override {
        if (skipping_ > 0) return --skipping_, true;
        switch (where_) {
        case Where::string_map:
            where_ = map_parent_;
            return true;
        case Where::alert:
            if (!complete(kAlertFields, alert_, alert_present_)) return false;
            finish_alert(alert_);
            notification_.alerts.push_back(std::move(alert_));
            where_ = Where::alerts;
            return true;
        case Where::root:
            where_ = Where::after;
            return complete(kWebhookFields, notification_, root_present_);
        default:
            return false;
        }
    }
    bool start_array() override {
        if (skipping()) return ++skipping_, true;
        return on_field([&](const auto& field, auto&, unsigned& present) {
            if (field.kind() != WebhookKind::alerts) return false;
            present |= 1U << field_;
            where_ = Where::alerts;
            return true;
        });
    }
    bool end_array() override {
        if (skipping_ > 0) return --skipping_, true;
        if (where_ != Where::alerts) return false;
        where_ = Where::root;
        return true;
    }
    std::optional<Notification> take() {
        if (where_ != Where::after) return std::nullopt;
        return std::move(notification_);
    }

  private:
    enum class Where { before, root, alerts, alert, string_map, after };

    // Inside the value of an unknown field of the root or of an alert, or at the start of one: read over,
    // whatever it is.
    bool skipping() const {
        return skipping_ > 0 ||
               ((where_ == Where::root || where_ == Where::alert) && field_ == kUnknownField);
    }

    // Calls take(field, record, present) with the row of the field whose value comes next and the
    // record it fills (the notification or the current alert); false where no field's value may come.
    template <typename Take> bool on_field(Take&& take) {
        if (where_ == Where::root) return take(kWebhookFields[field_], notification_, root_present_);
        if (where_ == Where::alert) return take(kAlertFields[field_], alert_, alert_present_);
        return false;
    }

    Notification notification_;
    Alert alert_;
    Where where_ = Where::before;
    Where map_parent_ = Where::root;
    std::size_t field_ = kUnknownField; // the row, in the table of where_, of the last key read
    std::map<std::string, std::string>* map_ = nullptr;
    std::string map_key_;
    unsigned root_seen_ = 0; // keys read, one bit per row
    unsigned alert_seen_ = 0;
    unsigned root_present_ = 0; // fields given a value (not null), one bit per row
    unsigned alert_present_ = 0;
    int skipping_ = 0; // depth inside the value of an unknown field
};

} // namespace

Result<Notification> parse_webhook_document(std::string_view body) {
    auto parsed = parse_json(body);
    if (!parsed) return Error{parsed.error()};
    Notification notification;
    if (auto read = read_fields(*parsed, kWebhookFields, notification, ""); !read) return Error{read.error()};
    return notification;
}

std::optional<Notification> read_webhook_streaming(std::string_view body) {
    StreamingWebhookReader reader;
    if (!scan_json(body, reader)) return std::nullopt;
    return reader.take();
}

Result<Notification> parse_webhook(std::string_view body) {
    if (auto read = read_webhook_streaming(body)) return std::move(*read);
    return parse_webhook_document(body);
}

Status check_notification_size(const Notification& notification) {
    if (notification.alerts.size() <= kMaxWebhookAlerts) return ok_status();
    return make_error(
        "alerts: " + std::to_string(notification.alerts.size()) +
        " alerts in one notification, more than the " + std::to_string(kMaxWebhookAlerts) +
        " this receiver takes; set max_alerts: " + std::to_string(kMaxWebhookAlerts) +
        " in Alertmanager's webhook_config (it then sends the first ones and counts the rest in "
        "truncatedAlerts)");
}

Result<DeploymentRequest> parse_deployment_request(std::string_view body) {
    auto parsed = parse_json(body);
    if (!parsed) return Error{parsed.error()};
    const json& root = *parsed;
    if (auto s = check_known_fields(root, {"id", "service", "version", "previous_version", "environment",
                                           "deployed_at", "commit", "url", "actor"});
        !s)
        return Error{s.error()};
    DeploymentRequest request;
    struct Field {
        const char* name;
        std::string* out;
        std::size_t max_length;
    };
    constexpr std::size_t kShort = kMaxDeploymentFieldBytes;
    const Field fields[] = {{"id", &request.id, kShort},
                            {"service", &request.service, kShort},
                            {"version", &request.version, kShort},
                            {"previous_version", &request.previous_version, kShort},
                            {"environment", &request.environment, kShort},
                            {"commit", &request.commit, kShort},
                            {"url", &request.url, 2048},
                            {"actor", &request.actor, kShort}};
    for (const auto& field : fields) {
        if (auto s = read_string(root, field.name, *field.out, ""); !s) return Error{s.error()};
        if (field.out->size() > field.max_length)
            return make_error(std::string(field.name) + ": longer than " + std::to_string(field.max_length) +
                              " characters");
        if (has_control_characters(*field.out))
            return make_error(std::string(field.name) + ": contains control characters");
    }
    if (request.service.empty()) return make_error("service: required; the name of the deployed service");
    if (request.version.empty()) return make_error("version: required; the version that was deployed");
    if (root.contains("deployed_at") && !root["deployed_at"].is_null()) {
        TimePoint deployed_at;
        if (auto s = read_time(root, "deployed_at", deployed_at, "", true); !s) return Error{s.error()};
        request.deployed_at = deployed_at;
    }
    return request;
}

std::string deployment_request_key(const DeploymentRequest& request) {
    return canonical_request_json(request);
}

std::string encode_error(std::string_view message) {
    return dump(json{{"error", std::string(message)}});
}

std::string encode_deployment(const Deployment& deployment, DeploymentState state) {
    return dump(deployment_json(deployment, state));
}

std::string encode_deployment_list(const std::vector<Deployment>& deployments,
                                   const std::vector<DeploymentState>& states) {
    json list = json::array();
    for (std::size_t i = 0; i < deployments.size(); ++i)
        list.push_back(deployment_json(deployments[i], i < states.size() ? states[i] : deployments[i].state));
    return dump(json{{"deployments", std::move(list)}});
}

// `detail` is JSON text written by encode_detail when the event was built: it goes out as it is, checked by
// nlohmann's validating pass (no document built, nothing re-encoded); text that is not JSON (a hand-edited
// ledger) goes out as {} so that the line stays valid.
std::string encode_audit_event(const AuditEvent& event) {
    std::string out = dump(audit_json_without_detail(event));
    out.pop_back(); // the closing brace
    out += ",\"detail\":";
    out += json::accept(event.detail) ? event.detail : "{}";
    out += '}';
    return out;
}

std::string encode_audit_list(const std::vector<AuditEvent>& events) {
    std::string out = "{\"events\":[";
    for (std::size_t i = 0; i < events.size(); ++i) {
        if (i > 0) out += ',';
        out += encode_audit_event(events[i]);
    }
    out += "]}";
    return out;
}

std::string encode_detail(const AuditDetail& detail) {
    json out = json::object();
    if (detail.alert) {
        out["status"] = detail.alert->status;
        out["labels"] = detail.alert->labels;
        out["annotations"] = detail.alert->annotations;
        out["startsAt"] = format_rfc3339_ms(detail.alert->starts_at);
        out["generatorURL"] = detail.alert->generator_url;
    }
    for (const auto& [key, value] : detail.text)
        out[key] = value;
    for (const auto& [key, value] : detail.numbers)
        out[key] = value;
    return dump(out);
}

DetailFields decode_detail(std::string_view detail) {
    DetailFields fields;
    const json root = json::parse(detail.begin(), detail.end(), nullptr, false);
    if (!root.is_object()) return fields;
    auto strings_of = [](const json& object, std::map<std::string, std::string>& into) {
        if (!object.is_object()) return;
        for (const auto& [key, value] : object.items())
            if (value.is_string()) into[key] = value.get<std::string>();
    };
    for (const auto& [key, value] : root.items()) {
        if (key == "labels") {
            strings_of(value, fields.labels);
        } else if (key == "annotations") {
            strings_of(value, fields.annotations);
        } else if (value.is_string()) {
            fields.text[key] = value.get<std::string>();
        } else if (value.is_number_integer()) {
            fields.numbers[key] = value.get<long long>();
        }
    }
    return fields;
}

namespace {

Status read_bounded_text(const json& root, const char* key, std::string& out, std::size_t max_length) {
    if (auto s = read_string(root, key, out, ""); !s) return s;
    if (out.size() > max_length)
        return make_error(std::string(key) + ": longer than " + std::to_string(max_length) + " characters");
    if (has_control_characters(out)) return make_error(std::string(key) + ": contains control characters");
    return ok_status();
}

json pause_json(const ServicePause& pause) {
    return json{{"service", pause.service},
                {"paused", true},
                {"reason", pause.reason},
                {"actor", pause.actor},
                {"paused_at", format_rfc3339_ms(pause.paused_at)},
                {"until", pause.until ? format_rfc3339_ms(*pause.until) : ""}};
}

} // namespace

Result<PauseRequest> parse_pause_request(std::string_view body) {
    PauseRequest request;
    if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return request; // no body: plain pause
    auto parsed = parse_json(body);
    if (!parsed) return Error{parsed.error()};
    if (auto s = check_known_fields(*parsed, {"reason", "for", "actor"}); !s) return Error{s.error()};
    if (auto s = read_bounded_text(*parsed, "reason", request.reason, 1000); !s) return Error{s.error()};
    if (auto s = read_bounded_text(*parsed, "actor", request.actor, kMaxDeploymentFieldBytes); !s)
        return Error{s.error()};
    std::string duration_text;
    if (auto s = read_string(*parsed, "for", duration_text, ""); !s) return Error{s.error()};
    if (!duration_text.empty()) {
        auto duration = parse_duration(duration_text);
        if (!duration) return make_error("for: " + duration.error());
        if (duration->count() <= 0)
            return make_error("for: must be more than 0s (leave it out to pause until resumed)");
        request.duration = *duration;
    }
    return request;
}

Result<ManualRollbackRequest> parse_manual_rollback_request(std::string_view body) {
    auto parsed = parse_json(body);
    if (!parsed) return Error{parsed.error()};
    ManualRollbackRequest request;
    if (auto s = check_known_fields(*parsed, {"reason", "actor"}); !s) return Error{s.error()};
    if (auto s = read_bounded_text(*parsed, "reason", request.reason, 1000); !s) return Error{s.error()};
    if (auto s = read_bounded_text(*parsed, "actor", request.actor, kMaxDeploymentFieldBytes); !s)
        return Error{s.error()};
    if (request.reason.empty())
        return make_error(
            "reason: required; say why this deployment is rolled back by hand (it goes to the audit trail)");
    return request;
}

std::string encode_pause(const ServicePause& pause) {
    return dump(pause_json(pause));
}

std::string encode_pause_list(const std::vector<ServicePause>& pauses) {
    json list = json::array();
    for (const auto& pause : pauses)
        list.push_back(pause_json(pause));
    return dump(json{{"services", std::move(list)}});
}

std::string encode_rollback_started(const Deployment& deployment, DeploymentState state) {
    return dump(json{{"status", "started"}, {"deployment", deployment_json(deployment, state)}});
}

std::string json_quote(std::string_view text) {
    return dump(json(std::string(text)));
}

// --- outgoing calls ---

namespace {

json template_to_json(const TemplateValue& value, const std::map<std::string, std::string>& values) {
    switch (value.kind) {
    case TemplateValue::Kind::null:
        return nullptr;
    case TemplateValue::Kind::boolean:
        return value.text == "true";
    case TemplateValue::Kind::number: {
        json number = json::parse(value.text, nullptr, false);
        if (number.is_number() && (!number.is_number_float() || std::isfinite(number.get<double>())))
            return number;
        return value.text; // beyond a double's range: keep the digits as text
    }
    case TemplateValue::Kind::string:
        return expand_placeholders(value.text, values);
    case TemplateValue::Kind::list: {
        json list = json::array();
        for (const TemplateValue& item : value.items)
            list.push_back(template_to_json(item, values));
        return list;
    }
    case TemplateValue::Kind::object: {
        json object = json::object();
        for (const auto& [key, item] : value.fields)
            object[key] = template_to_json(item, values);
        return object;
    }
    }
    return nullptr;
}

} // namespace

std::string encode_template(const TemplateValue& value, const std::map<std::string, std::string>& values) {
    return dump(template_to_json(value, values));
}

std::string encode_workflow_dispatch(std::string_view ref,
                                     const std::vector<std::pair<std::string, std::string>>& inputs) {
    json document = {{"ref", ref}, {"inputs", json::object()}};
    for (const auto& [name, value] : inputs)
        document["inputs"][name] = value;
    return dump(document);
}

std::string encode_chat_message(std::string_view text) {
    return dump(json{{"text", text}});
}

std::string github_error_message(std::string_view body) {
    const json document = json::parse(body, nullptr, false);
    if (document.is_object() && document.contains("message") && document["message"].is_string())
        return document["message"].get<std::string>();
    std::string text(body.substr(0, 300));
    std::replace_if(
        text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
    return text;
}

Result<PrometheusRange> parse_prometheus_range(std::string_view body, std::size_t max_series) {
    auto parsed = parse_json(body);
    if (!parsed) return make_error("Prometheus answer: " + parsed.error());
    const json& root = *parsed;
    std::string status, error_type, error;
    (void)read_string(root, "status", status, "");
    if (status != "success") {
        (void)read_string(root, "errorType", error_type, "");
        (void)read_string(root, "error", error, "");
        return make_error("Prometheus answered status \"" + status + "\"" +
                          (error_type.empty() ? "" : " (" + error_type + ")") +
                          (error.empty() ? "" : ": " + error));
    }
    const auto data = root.find("data");
    if (data == root.end() || !data->is_object())
        return make_error("Prometheus answer has no \"data\" object");
    std::string type;
    if (auto s = read_string(*data, "resultType", type, "data."); !s) return Error{s.error()};
    if (type != "matrix")
        return make_error("Prometheus answered a \"" + type + "\" result to a range query, not a matrix");
    const auto result = data->find("result");
    if (result == data->end() || !result->is_array())
        return make_error("Prometheus answer: data.result: expected a list");
    PrometheusRange range;
    range.total_series = result->size();
    for (std::size_t i = 0; i < result->size() && i < max_series; ++i) {
        const json& item = (*result)[i];
        const std::string path = "data.result[" + std::to_string(i) + "]";
        if (!item.is_object()) return expected("Prometheus answer: " + path, "{metric, values}", item);
        PrometheusRangeSeries series;
        if (auto metric = item.find("metric"); metric != item.end() && metric->is_object())
            for (const auto& [name, value] : metric->items())
                if (value.is_string()) series.metric[name] = value.get<std::string>();
        const auto values = item.find("values");
        if (values == item.end() || !values->is_array())
            return make_error("Prometheus answer: " + path + ".values: expected a list");
        for (std::size_t j = 0; j < values->size(); ++j) {
            const json& sample = (*values)[j];
            const std::string at = path + ".values[" + std::to_string(j) + "]";
            if (!sample.is_array() || sample.size() != 2 || !sample[0].is_number() || !sample[1].is_string())
                return expected("Prometheus answer: " + at, "[<time>, \"<value>\"]", sample);
            const std::string text = sample[1].get<std::string>();
            char* end = nullptr;
            const double value = std::strtod(text.c_str(), &end);
            if (text.empty() || end != text.c_str() + text.size())
                return make_error("Prometheus answer: " + at + "[1]: \"" + text.substr(0, 40) +
                                  "\" is not a number");
            series.values.emplace_back(sample[0].get<double>(), value);
        }
        range.series.push_back(std::move(series));
    }
    return range;
}

} // namespace rollback
