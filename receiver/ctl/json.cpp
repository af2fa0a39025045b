// rollbackctl's JSON on nlohmann_json (its only user on rollbackctl's side): API answers read leniently.
#include "ctl/json.hpp"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <initializer_list>
#include <utility>

namespace rollback {
namespace {

using json = nlohmann::json;

// The body as a JSON object; the messages read as the receiver's own ("malformed JSON: ...").
Result<json> parse_object(std::string_view body) {
    try {
        json value = json::parse(body.begin(), body.end());
        if (value.is_object()) return value;
        return make_error(std::string("the body must be a JSON object, not ") + value.type_name());
    } catch (const json::parse_error& error) {
        const std::string what = error.what(); // names the byte offset and what was expected
        const auto start = what.find("parse error");
        return make_error("malformed JSON: " + (start == std::string::npos ? what : what.substr(start)));
    } catch (const json::exception& error) { // e.g. a number too large for a double ("1e400")
        const std::string what = error.what();
        const auto start = what.find("] ");
        return make_error("malformed JSON: " + (start == std::string::npos ? what : what.substr(start + 2)));
    }
}

Error expected(std::string_view path, std::string_view what, const json& got) {
    return make_error(std::string(path) + ": expected " + std::string(what) + ", got " + got.type_name());
}

std::string dump(const json& value) {
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// A text field as text: strings as they are, numbers and booleans as JSON, anything else "".
std::string text_field(const json& object, const char* key) {
    const auto it = object.find(key);
    if (it == object.end() || it->is_null()) return "";
    if (it->is_string()) return it->get<std::string>();
    if (it->is_number() || it->is_boolean()) return it->dump();
    return "";
}

// Each text field named into its string.
void read_text_fields(const json& object,
                      std::initializer_list<std::pair<const char*, std::string*>> fields) {
    for (const auto& [key, out] : fields)
        *out = text_field(object, key);
}

Result<TimePoint> time_field(const json& object, const char* key, const std::string& path) {
    const std::string text = text_field(object, key);
    if (text.empty()) return TimePoint{};
    auto parsed = parse_rfc3339(text);
    if (!parsed) return make_error(path + "." + key + ": " + parsed.error());
    return *parsed;
}

Result<const json*> array_field(const json& object, const char* key) {
    const auto it = object.find(key);
    if (it == object.end() || !it->is_array())
        return make_error(std::string("the answer has no \"") + key +
                          "\" list; is the URL a rollback-receiver?");
    return &*it;
}

// The objects of the list `key` of the answer, each read by `read(value, "key[i]")`.
template <typename T, typename Read>
Result<std::vector<T>> read_list(std::string_view body, const char* key, Read read) {
    auto parsed = parse_object(body);
    if (!parsed) return Error{parsed.error()};
    auto list = array_field(*parsed, key);
    if (!list) return Error{list.error()};
    std::vector<T> out;
    for (std::size_t i = 0; i < (*list)->size(); ++i) {
        Result<T> item = read((**list)[i], std::string(key) + "[" + std::to_string(i) + "]");
        if (!item) return Error{item.error()};
        out.push_back(std::move(*item));
    }
    return out;
}

Result<DeploymentListing> deployment_listing(const json& value, const std::string& path) {
    if (!value.is_object()) return expected(path, "an object", value);
    DeploymentListing out;
    out.id = text_field(value, "id");
    if (out.id.empty()) return make_error(path + ".id: missing; the answer is not a deployment");
    read_text_fields(value, {{"service", &out.service},
                             {"environment", &out.environment},
                             {"version", &out.version},
                             {"previous_version", &out.previous_version},
                             {"kind", &out.kind},
                             {"state", &out.state},
                             {"rollback_of", &out.rollback_of}});
    auto deployed_at = time_field(value, "deployed_at", path);
    if (!deployed_at) return Error{deployed_at.error()};
    out.deployed_at = *deployed_at;
    return out;
}

Result<AuditEvent> audit_event(const json& value, const std::string& path) {
    if (!value.is_object()) return expected(path, "an object", value);
    AuditEvent event;
    const auto sequence = value.find("sequence");
    if (sequence == value.end() || !sequence->is_number_integer())
        return make_error(path + ".sequence: missing or not a whole number");
    event.sequence = sequence->get<long long>();
    auto time = time_field(value, "time", path);
    if (!time) return Error{time.error()};
    event.time = *time;
    read_text_fields(value, {{"event", &event.event},
                             {"service", &event.service},
                             {"environment", &event.environment},
                             {"deployment_id", &event.deployment_id},
                             {"version", &event.version},
                             {"previous_version", &event.previous_version},
                             {"alertname", &event.alertname},
                             {"fingerprint", &event.fingerprint},
                             {"reason", &event.reason},
                             {"instance", &event.instance}});
    if (const auto detail = value.find("detail"); detail != value.end() && !detail->is_null())
        event.detail = dump(*detail);
    return event;
}

Result<PauseListing> service_pause(const json& value, const std::string& path) {
    if (!value.is_object()) return expected(path, "an object", value);
    PauseListing out;
    read_text_fields(value, {{"service", &out.service},
                             {"reason", &out.reason},
                             {"paused_at", &out.paused_at},
                             {"until", &out.until}});
    const auto paused = value.find("paused");
    out.paused = paused != value.end() && paused->is_boolean() && paused->get<bool>();
    return out;
}

Result<double> sample_value(const json& sample, const std::string& path) {
    if (!sample.is_array() || sample.size() != 2 || !sample[1].is_string())
        return expected(path, "[<time>, \"<value>\"]", sample);
    const std::string text = sample[1].get<std::string>();
    char* end = nullptr;
    const double number = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size())
        return make_error(path + "[1]: \"" + text + "\" is not a number");
    return number;
}

} // namespace

Result<DeploymentListing> parse_deployment_document(std::string_view body) {
    auto parsed = parse_object(body);
    if (!parsed) return Error{parsed.error()};
    return deployment_listing(*parsed, "deployment");
}

Result<std::vector<DeploymentListing>> parse_deployment_list(std::string_view body) {
    return read_list<DeploymentListing>(body, "deployments", deployment_listing);
}

Result<DeploymentListing> parse_rollback_started(std::string_view body) {
    auto parsed = parse_object(body);
    if (!parsed) return Error{parsed.error()};
    const auto it = parsed->find("deployment");
    if (it == parsed->end())
        return make_error("the answer has no \"deployment\"; is the URL a rollback-receiver?");
    return deployment_listing(*it, "deployment");
}

Result<std::vector<AuditEvent>> parse_audit_list(std::string_view body) {
    return read_list<AuditEvent>(body, "events", audit_event);
}

Result<std::vector<std::string>> audit_event_lines(std::string_view body) {
    return read_list<std::string>(
        body, "events",
        [](const json& event, const std::string&) -> Result<std::string> { return dump(event); });
}

std::string alert_summary(const AuditEvent& event) {
    const json detail = json::parse(event.detail, nullptr, false);
    if (!detail.is_object()) return "";
    const auto annotations = detail.find("annotations");
    if (annotations == detail.end() || !annotations->is_object()) return "";
    return text_field(*annotations, "summary");
}

std::string detail_text(const AuditEvent& event, const std::string& key) {
    const json detail = json::parse(event.detail, nullptr, false);
    if (!detail.is_object()) return "";
    return text_field(detail, key.c_str());
}

Result<PauseListing> parse_service_pause(std::string_view body) {
    auto parsed = parse_object(body);
    if (!parsed) return Error{parsed.error()};
    if (text_field(*parsed, "service").empty())
        return make_error("the answer has no \"service\"; is the URL a rollback-receiver?");
    return service_pause(*parsed, "");
}

Result<std::vector<PauseListing>> parse_service_list(std::string_view body) {
    return read_list<PauseListing>(body, "services", service_pause);
}

std::string error_message_from_body(std::string_view body) {
    const json parsed = json::parse(body.begin(), body.end(), nullptr, false);
    if (!parsed.is_discarded() && parsed.is_object()) {
        const std::string error = text_field(parsed, "error");
        if (!error.empty()) return error;
    }
    std::string text(body.substr(0, 300));
    for (char& c : text)
        if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    while (!text.empty() && text.back() == ' ')
        text.pop_back();
    if (body.size() > 300) text += "...";
    return text.empty() ? "(empty body)" : text;
}

std::string encode_deployment_request(const DeploymentRequest& request) {
    const std::pair<const char*, const std::string*> fields[] = {
        {"id", &request.id},
        {"service", &request.service},
        {"version", &request.version},
        {"previous_version", &request.previous_version},
        {"environment", &request.environment},
        {"commit", &request.commit},
        {"url", &request.url},
        {"actor", &request.actor}};
    json out = json::object();
    for (const auto& [name, value] : fields)
        if (!value->empty()) out[name] = *value;
    if (request.deployed_at) out["deployed_at"] = format_rfc3339_ms(*request.deployed_at);
    return out.dump(); // as the receiver's deployment_request_key: keys sorted, strict UTF-8
}

std::string encode_pause_request(std::string_view reason, std::string_view for_duration,
                                 std::string_view actor) {
    json out = json::object();
    if (!reason.empty()) out["reason"] = std::string(reason);
    if (!for_duration.empty()) out["for"] = std::string(for_duration);
    if (!actor.empty()) out["actor"] = std::string(actor);
    return dump(out);
}

std::string encode_rollback_request(std::string_view reason, std::string_view actor) {
    json out = json::object();
    out["reason"] = std::string(reason);
    if (!actor.empty()) out["actor"] = std::string(actor);
    return dump(out);
}

Result<std::vector<double>> parse_prometheus_query_values(std::string_view body) {
    auto parsed = parse_object(body);
    if (!parsed) return make_error("Prometheus answer: " + parsed.error());
    const std::string status = text_field(*parsed, "status");
    if (status != "success") {
        const std::string type = text_field(*parsed, "errorType");
        const std::string message = text_field(*parsed, "error");
        return make_error("Prometheus answered status \"" + status + "\"" +
                          (type.empty() ? "" : " (" + type + ")") + (message.empty() ? "" : ": " + message));
    }
    const auto data = parsed->find("data");
    if (data == parsed->end() || !data->is_object())
        return make_error("Prometheus answer has no \"data\" object");
    const std::string type = text_field(*data, "resultType");
    const auto result = data->find("result");
    if (result == data->end()) return make_error("Prometheus answer has no \"data.result\"");
    std::vector<double> values;
    if (type == "scalar") {
        auto value = sample_value(*result, "data.result");
        if (!value) return Error{value.error()};
        values.push_back(*value);
    } else if (type == "vector") {
        if (!result->is_array()) return expected("data.result", "a list", *result);
        for (std::size_t i = 0; i < result->size(); ++i) {
            const json& series = (*result)[i];
            const std::string path = "data.result[" + std::to_string(i) + "]";
            if (!series.is_object() || !series.contains("value"))
                return expected(path, "{metric, value}", series);
            auto value = sample_value(series["value"], path + ".value");
            if (!value) return Error{value.error()};
            values.push_back(*value);
        }
    } else {
        return make_error("Prometheus answered a \"" + type +
                          "\" result; the query must give an instant vector or a scalar (not a range)");
    }
    return values;
}

} // namespace rollback
