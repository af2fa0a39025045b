// JsonDocumentEvents: builds an nlohmann_json document from scan_json's events, to compare with json::parse.
#pragma once

#include "codec/json_scan.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace rollback::testing {

// Builds the document as nlohmann's own DOM builder does: a repeated key keeps the last value.
class JsonDocumentEvents final : public JsonEvents {
  public:
    bool null() override { return put(nullptr); }
    bool boolean(bool value) override { return put(value); }
    bool number_unsigned(std::uint64_t value) override { return put(value); }
    bool string(std::string& value) override { return put(value); }
    bool start_object() override {
        put(nlohmann::json::object());
        stack_.push_back(last_);
        return true;
    }
    bool key(std::string& name) override {
        key_ = name;
        return true;
    }
    bool end_object() override {
        stack_.pop_back();
        return true;
    }
    bool start_array() override {
        put(nlohmann::json::array());
        stack_.push_back(last_);
        return true;
    }
    bool end_array() override {
        stack_.pop_back();
        return true;
    }
    nlohmann::json root;

  private:
    bool put(nlohmann::json value) {
        if (stack_.empty()) {
            root = std::move(value);
            last_ = &root;
        } else if (stack_.back()->is_object()) {
            last_ = &((*stack_.back())[key_] = std::move(value));
        } else {
            stack_.back()->push_back(std::move(value));
            last_ = &stack_.back()->back();
        }
        return true;
    }
    std::vector<nlohmann::json*> stack_;
    nlohmann::json* last_ = nullptr;
    std::string key_;
};

} // namespace rollback::testing
