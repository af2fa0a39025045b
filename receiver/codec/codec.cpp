// JSON codecs built on nlohmann_json: parse with field-naming errors, encode API and audit documents.
#include "codec/codec.hpp"

#include "codec/json_scan.hpp"
#include "config/placeholders.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>

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

Result<Alert> parse_alert(const json& value, const std::string& path) {
    if (!value.is_object()) return expected(path, "an alert object", value);
    Alert alert;
    if (auto s = read_string(value, "status", alert.status, path + "."); !s) return Error{s.error()};
    if (alert.status != "firing" && alert.status != "resolved")
        return make_error(path + ".status: expected \"firing\" or \"resolved\", got \"" + alert.status +
                          "\"");
    if (auto s = read_string_map(value, "labels", alert.labels, path + "."); !s) return Error{s.error()};
    if (auto s = read_string_map(value, "annotations", alert.annotations, path + "."); !s)
        return Error{s.error()};
    if (auto s = read_time(value, "startsAt", alert.starts_at, path + ".", true); !s) return Error{s.error()};
    if (auto s = read_time(value, "endsAt", alert.ends_at, path + ".", false); !s) return Error{s.error()};
    if (auto s = read_string(value, "generatorURL", alert.generator_url, path + "."); !s)
        return Error{s.error()};
    if (auto s = read_string(value, "fingerprint", alert.fingerprint, path + "."); !s)
        return Error{s.error()};
    if (alert.fingerprint.empty()) alert.fingerprint = fingerprint_of(alert.labels);
    return alert;
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
    };
}

std::string dump(const json& value) {
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool has_control_characters(std::string_view text) {
    return std::any_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; });
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

Result<Notification> parse_webhook_document(std::string_view body) {
    auto parsed = parse_json(body);
    if (!parsed) return Error{parsed.error()};
    const json& root = *parsed;
    Notification notification;
    if (auto s = read_string(root, "version", notification.version, ""); !s) return Error{s.error()};
    if (!root.contains("version"))
        return make_error(
            "version: missing; this receiver reads Alertmanager's webhook payload version \"4\"");
    if (notification.version != "4")
        return make_error(
            "version: \"" + notification.version +
            "\" is not supported; this receiver reads Alertmanager's webhook payload version \"4\"");
    auto alerts = root.find("alerts");
    if (alerts == root.end()) return make_error("alerts: missing; expected a list of alerts");
    if (!alerts->is_array()) return expected("alerts", "a list of alerts", *alerts);
    for (std::size_t i = 0; i < alerts->size(); ++i) {
        auto alert = parse_alert((*alerts)[i], "alerts[" + std::to_string(i) + "]");
        if (!alert) return Error{alert.error()};
        notification.alerts.push_back(std::move(*alert));
    }
    if (auto s = read_string(root, "receiver", notification.receiver, ""); !s) return Error{s.error()};
    if (auto s = read_string(root, "status", notification.status, ""); !s) return Error{s.error()};
    if (auto s = read_string_map(root, "groupLabels", notification.group_labels, ""); !s)
        return Error{s.error()};
    if (auto s = read_string_map(root, "commonLabels", notification.common_labels, ""); !s)
        return Error{s.error()};
    if (auto s = read_string_map(root, "commonAnnotations", notification.common_annotations, ""); !s)
        return Error{s.error()};
    if (auto s = read_string(root, "externalURL", notification.external_url, ""); !s) return Error{s.error()};
    if (auto s = read_string(root, "groupKey", notification.group_key, ""); !s) return Error{s.error()};
    if (auto it = root.find("truncatedAlerts"); it != root.end() && !it->is_null()) {
        if (!it->is_number_integer() ||
            (it->is_number_unsigned() ? it->get<std::uint64_t>() > LONG_MAX : it->get<std::int64_t>() < 0))
            return expected("truncatedAlerts", "a whole number from 0 up", *it);
        notification.truncated_alerts = it->get<long>();
    }
    return notification;
}

namespace {

// Builds a Notification while scan_json reads the body: no JSON document in between, and no nlohmann
// lexer, which took most of the parsing time. It accepts only bodies that parse_webhook_document reads to
// the same Notification, and gives up (an event returns false) on anything else: what scan_json does not
// read, a wrong type, a null where the document reader would object, a repeated field (the document keeps
// the last), a value out of range, a missing field. Then the document reader decides and names the field.
class StreamingWebhookReader final : public JsonEvents {
  public:
    bool null() override { return scalar(Scalar::null, nullptr); }
    bool boolean(bool) override { return scalar(Scalar::other, nullptr); }
    bool number_unsigned(std::uint64_t value) override {
        if (skipping_ > 0 || skip_field()) return true;
        if (where_ != Where::root || field_ != Field::truncated_alerts ||
            value > static_cast<std::uint64_t>(LONG_MAX))
            return false;
        notification_.truncated_alerts = static_cast<long>(value);
        return true;
    }
    bool string(std::string& value) override { return scalar(Scalar::string, &value); }

    bool start_object() override {
        if (skipping_ > 0 || skip_field()) return ++skipping_, true;
        switch (where_) {
        case Where::before:
            where_ = Where::root;
            return true;
        case Where::alerts:
            alert_ = Alert{};
            alert_seen_ = 0;
            has_starts_at_ = false;
            where_ = Where::alert;
            return true;
        case Where::root:
        case Where::alert:
            map_ = map_for_field();
            if (map_ == nullptr) return false;
            map_parent_ = where_;
            where_ = Where::string_map;
            return true;
        default:
            return false;
        }
    }
    bool key(std::string& name) override {
        if (skipping_ > 0) return true;
        if (where_ == Where::string_map) {
            map_key_ = std::move(name);
            return true;
        }
        field_ = field_named(name);
        if (field_ == Field::unknown) return true;
        unsigned& seen = where_ == Where::root ? root_seen_ : alert_seen_;
        const unsigned bit = 1U << static_cast<unsigned>(field_);
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
            if ((alert_.status != "firing" && alert_.status != "resolved") || !has_starts_at_) return false;
            if (alert_.fingerprint.empty()) alert_.fingerprint = fingerprint_of(alert_.labels);
            notification_.alerts.push_back(std::move(alert_));
            where_ = Where::alerts;
            return true;
        case Where::root:
            where_ = Where::after;
            return notification_.version == "4" &&
                   (root_seen_ & (1U << static_cast<unsigned>(Field::alerts)));
        default:
            return false;
        }
    }
    bool start_array() override {
        if (skipping_ > 0 || skip_field()) return ++skipping_, true;
        if (where_ != Where::root || field_ != Field::alerts) return false;
        where_ = Where::alerts;
        return true;
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
    // The fields of the root and of an alert that are read; each is a bit in root_seen_ / alert_seen_.
    enum class Field {
        version,
        alerts,
        receiver,
        status,
        group_labels,
        common_labels,
        common_annotations,
        external_url,
        group_key,
        truncated_alerts,
        labels,
        annotations,
        starts_at,
        ends_at,
        generator_url,
        fingerprint,
        unknown
    };
    enum class Scalar { null, string, other };

    Field field_named(const std::string& name) const {
        static const std::map<std::string, Field, std::less<>> root_fields{
            {"version", Field::version},
            {"alerts", Field::alerts},
            {"receiver", Field::receiver},
            {"status", Field::status},
            {"groupLabels", Field::group_labels},
            {"commonLabels", Field::common_labels},
            {"commonAnnotations", Field::common_annotations},
            {"externalURL", Field::external_url},
            {"groupKey", Field::group_key},
            {"truncatedAlerts", Field::truncated_alerts}};
        static const std::map<std::string, Field, std::less<>> alert_fields{
            {"status", Field::status},           {"labels", Field::labels},
            {"annotations", Field::annotations}, {"startsAt", Field::starts_at},
            {"endsAt", Field::ends_at},          {"generatorURL", Field::generator_url},
            {"fingerprint", Field::fingerprint}};
        const auto& fields = where_ == Where::root ? root_fields : alert_fields;
        auto it = fields.find(name);
        return it == fields.end() ? Field::unknown : it->second;
    }

    // The value of an unknown field of the root or of an alert: read over, whatever it is.
    bool skip_field() const {
        return (where_ == Where::root || where_ == Where::alert) && field_ == Field::unknown;
    }

    // field_named keeps root and alert fields apart: only "status" is both, and it is text.
    std::map<std::string, std::string>* map_for_field() {
        switch (field_) {
        case Field::group_labels:
            return &notification_.group_labels;
        case Field::common_labels:
            return &notification_.common_labels;
        case Field::common_annotations:
            return &notification_.common_annotations;
        case Field::labels:
            return &alert_.labels;
        case Field::annotations:
            return &alert_.annotations;
        default:
            return nullptr;
        }
    }

    std::string* text_for_field() {
        if (where_ == Where::root) {
            switch (field_) {
            case Field::version:
                return &notification_.version;
            case Field::receiver:
                return &notification_.receiver;
            case Field::status:
                return &notification_.status;
            case Field::external_url:
                return &notification_.external_url;
            case Field::group_key:
                return &notification_.group_key;
            default:
                return nullptr;
            }
        }
        switch (field_) {
        case Field::status:
            return &alert_.status;
        case Field::generator_url:
            return &alert_.generator_url;
        case Field::fingerprint:
            return &alert_.fingerprint;
        default:
            return nullptr;
        }
    }

    // A null, string, boolean or number value.
    bool scalar(Scalar kind, std::string* text) {
        if (skipping_ > 0 || skip_field()) return true;
        if (where_ == Where::string_map) {
            if (kind != Scalar::string) return false;
            (*map_)[map_key_] = std::move(*text);
            return true;
        }
        if (where_ != Where::root && where_ != Where::alert) return false;
        if (kind == Scalar::other) return false;
        if (kind == Scalar::null) {
            // Absent and null read the same, except where the document reader objects to a null.
            return !(where_ == Where::root && (field_ == Field::version || field_ == Field::alerts));
        }
        if (field_ == Field::starts_at || field_ == Field::ends_at) {
            auto parsed = parse_rfc3339(*text);
            if (!parsed) return false;
            (field_ == Field::starts_at ? alert_.starts_at : alert_.ends_at) = *parsed;
            if (field_ == Field::starts_at) has_starts_at_ = true;
            return true;
        }
        std::string* out = text_for_field();
        if (out == nullptr) return false;
        *out = std::move(*text);
        return true;
    }

    Notification notification_;
    Alert alert_;
    Where where_ = Where::before;
    Where map_parent_ = Where::root;
    Field field_ = Field::unknown;
    std::map<std::string, std::string>* map_ = nullptr;
    std::string map_key_;
    unsigned root_seen_ = 0;
    unsigned alert_seen_ = 0;
    bool has_starts_at_ = false;
    int skipping_ = 0; // depth inside the value of an unknown field
};

} // namespace

std::optional<Notification> read_webhook_streaming(std::string_view body) {
    StreamingWebhookReader reader;
    if (!scan_json(body, reader)) return std::nullopt;
    return reader.take();
}

Result<Notification> parse_webhook(std::string_view body) {
    if (auto read = read_webhook_streaming(body)) return std::move(*read);
    return parse_webhook_document(body);
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
    const Field fields[] = {{"id", &request.id, 200},
                            {"service", &request.service, 200},
                            {"version", &request.version, 200},
                            {"previous_version", &request.previous_version, 200},
                            {"environment", &request.environment, 200},
                            {"commit", &request.commit, 200},
                            {"url", &request.url, 2048},
                            {"actor", &request.actor, 200}};
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
    if (auto s = read_bounded_text(*parsed, "actor", request.actor, 200); !s) return Error{s.error()};
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
    if (auto s = read_bounded_text(*parsed, "actor", request.actor, 200); !s) return Error{s.error()};
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

} // namespace rollback
