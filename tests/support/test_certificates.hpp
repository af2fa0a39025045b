// TestCertificates: a throwaway test CA with server and client certificates, made by the openssl CLI.
#pragma once

#include "support/child_process.hpp"
#include "support/temp_dir.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace rollback::testing {

// Every file is PEM with an EC P-256 key, valid for two days. Keys are unencrypted.
struct TestCertificates {
    std::string ca_file; // the test CA ("rollback-test-ca"), self-signed, CA:TRUE
    std::string ca_key_file;
    std::string server_cert_file; // signed by the CA; subjectAltName IP:127.0.0.1, IP:::1, DNS:localhost
    std::string server_key_file;
    // Signed by the CA, but for another host: subjectAltName DNS:elsewhere.invalid, CN=elsewhere.invalid.
    std::string misnamed_cert_file;
    std::string misnamed_key_file;
    // Signed by the CA with subjectAltName DNS:elsewhere.invalid but CN=127.0.0.1: a client must not fall
    // back to the CN when the certificate has a subjectAltName (RFC 6125 6.4.4; curl and browsers do not).
    std::string cn_only_cert_file;
    std::string cn_only_key_file;
    // An unrelated self-signed certificate (CA:TRUE, so it also signs stranger_client_cert_file), with the
    // same subjectAltName as the server certificate: trusted by nobody but itself.
    std::string stranger_cert_file;
    std::string stranger_key_file;
    std::string client_cert_file; // signed by the CA; extendedKeyUsage clientAuth (mutual TLS)
    std::string client_key_file;
    std::string stranger_client_cert_file; // the same, but signed by the stranger
    std::string stranger_client_key_file;
};

// The openssl binary: a path, since ChildProcess does not search PATH.
inline std::string openssl_binary() {
    for (const char* candidate : {"/usr/bin/openssl", "/usr/local/bin/openssl", "/bin/openssl"})
        if (std::filesystem::exists(candidate)) return candidate;
    throw std::runtime_error("openssl is not installed (scripts/install-deps.sh installs it)");
}

// Runs `openssl <arguments>` in the foreground; throws with its output when it fails.
inline void run_openssl(const std::vector<std::string>& arguments, const std::string& log_path) {
    std::vector<std::string> argv{openssl_binary()};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    ChildProcess openssl(argv, output_files(log_path, log_path));
    const int status = openssl.wait(std::chrono::seconds(30));
    if (status != 0) {
        std::string command_line;
        for (const auto& argument : argv)
            command_line += (command_line.empty() ? "" : " ") + argument;
        throw std::runtime_error(command_line + " failed (status " + std::to_string(status) +
                                 "): " + TempDir::read(log_path));
    }
}

// Writes the certificates of TestCertificates into `folder` (which must exist); a dozen openssl runs.
inline TestCertificates generate_test_certificates(const std::string& folder) {
    const auto path = [&folder](const std::string& name) {
        return (std::filesystem::path(folder) / name).string();
    };
    const std::string log = path("openssl.log");
    const std::vector<std::string> ec_key{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                          "-nodes"};
    const std::string loopback_names = "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost";

    // A self-signed CA certificate and its key.
    const auto self_signed_ca = [&](const std::string& name, const std::string& common_name,
                                    const std::string& alt_names) {
        std::vector<std::string> arguments{"req", "-x509"};
        arguments.insert(arguments.end(), ec_key.begin(), ec_key.end());
        arguments.insert(arguments.end(),
                         {"-keyout", path(name + ".key"), "-out", path(name + ".pem"), "-days", "2", "-subj",
                          "/CN=" + common_name, "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
                          "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"});
        if (!alt_names.empty()) arguments.insert(arguments.end(), {"-addext", alt_names});
        run_openssl(arguments, log);
    };
    // A key, a request, and the certificate `issuer` signs for it with the extensions in `extensions`.
    int serial = 1000;
    const auto issued = [&](const std::string& name, const std::string& common_name,
                            const std::string& issuer, const std::string& extensions) {
        std::vector<std::string> request{"req"};
        request.insert(request.end(), ec_key.begin(), ec_key.end());
        request.insert(request.end(), {"-keyout", path(name + ".key"), "-out", path(name + ".csr"), "-subj",
                                       "/CN=" + common_name});
        run_openssl(request, log);
        std::ofstream(path(name + ".ext")) << "basicConstraints=CA:FALSE\n" << extensions << "\n";
        run_openssl({"x509", "-req", "-in", path(name + ".csr"), "-CA", path(issuer + ".pem"), "-CAkey",
                     path(issuer + ".key"), "-set_serial", std::to_string(++serial), "-days", "2", "-extfile",
                     path(name + ".ext"), "-out", path(name + ".pem")},
                    log);
    };

    self_signed_ca("ca", "rollback-test-ca", "");
    self_signed_ca("stranger", "rollback-test-stranger", loopback_names);
    const std::string server_usage = "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n";
    const std::string client_usage = "keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth";
    issued("server", "localhost", "ca", server_usage + loopback_names);
    issued("misnamed", "elsewhere.invalid", "ca", server_usage + "subjectAltName=DNS:elsewhere.invalid");
    issued("cn-only", "127.0.0.1", "ca", server_usage + "subjectAltName=DNS:elsewhere.invalid");
    issued("client", "rollback-test-client", "ca", client_usage);
    issued("stranger-client", "rollback-test-stranger-client", "stranger", client_usage);

    TestCertificates certificates;
    certificates.ca_file = path("ca.pem");
    certificates.ca_key_file = path("ca.key");
    certificates.server_cert_file = path("server.pem");
    certificates.server_key_file = path("server.key");
    certificates.misnamed_cert_file = path("misnamed.pem");
    certificates.misnamed_key_file = path("misnamed.key");
    certificates.cn_only_cert_file = path("cn-only.pem");
    certificates.cn_only_key_file = path("cn-only.key");
    certificates.stranger_cert_file = path("stranger.pem");
    certificates.stranger_key_file = path("stranger.key");
    certificates.client_cert_file = path("client.pem");
    certificates.client_key_file = path("client.key");
    certificates.stranger_client_cert_file = path("stranger-client.pem");
    certificates.stranger_client_key_file = path("stranger-client.key");
    return certificates;
}

// The certificates of this test binary: made on first use in a temporary folder that is removed at exit.
inline const TestCertificates& test_certificates() {
    static const TempDir folder;
    static const TestCertificates certificates = generate_test_certificates(folder.path().string());
    return certificates;
}

} // namespace rollback::testing
