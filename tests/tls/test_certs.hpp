// Certificates for the TLS tests, made at run time with the `openssl` program in a fresh
// temporary directory (once per test process): a CA, a server certificate for "localhost" and
// 127.0.0.1 signed by it, a client certificate signed by it, and an untrusted self-signed one.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace flowstack::test {

struct test_certificates {
  std::string dir;
  std::string ca_file, ca_pem;
  std::string server_cert_file, server_cert_pem, server_key_file, server_key_pem;
  std::string client_cert_file, client_cert_pem, client_key_file, client_key_pem;
  std::string untrusted_cert_file, untrusted_cert_pem, untrusted_key_file, untrusted_key_pem;
};

namespace detail {

inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

inline void shell(const std::string& command) {
  std::string quiet = command + " >/dev/null 2>&1";
  if (std::system(quiet.c_str()) != 0) {
    throw std::runtime_error("making test certificates failed: " + command);
  }
}

inline test_certificates make_certificates() {
  test_certificates c;
  std::string dir = "/tmp/flowstack-tls-certs-XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  c.dir = dir;
  const std::string key = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
  auto path = [&dir](const char* name) { return dir + "/" + name; };
  shell("openssl req -x509 " + key + " -keyout " + path("ca.key") + " -out " + path("ca.pem") +
        " -days 2 -subj /CN=flowstack-test-ca -addext basicConstraints=critical,CA:TRUE" +
        " -addext keyUsage=critical,keyCertSign,cRLSign");
  auto signed_by_ca = [&](const std::string& name, const std::string& subject,
                          const std::string& extensions) {
    std::ofstream(path((name + ".ext").c_str())) << extensions << "\n";
    shell("openssl req " + key + " -keyout " + dir + "/" + name + ".key -out " + dir + "/" + name +
          ".csr -subj " + subject);
    shell("openssl x509 -req -in " + dir + "/" + name + ".csr -CA " + path("ca.pem") + " -CAkey " +
          path("ca.key") + " -set_serial 0x" + std::to_string(name.size() + 17) + " -days 2 -out " +
          dir + "/" + name + ".pem -extfile " + dir + "/" + name + ".ext");
  };
  signed_by_ca("server", "/CN=localhost",
               "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth");
  signed_by_ca("client", "/CN=flowstack-test-client", "extendedKeyUsage=clientAuth");
  shell("openssl req -x509 " + key + " -keyout " + path("untrusted.key") + " -out " +
        path("untrusted.pem") + " -days 2 -subj /CN=localhost" +
        " -addext subjectAltName=DNS:localhost,IP:127.0.0.1");
  c.ca_file = path("ca.pem");
  c.server_cert_file = path("server.pem");
  c.server_key_file = path("server.key");
  c.client_cert_file = path("client.pem");
  c.client_key_file = path("client.key");
  c.untrusted_cert_file = path("untrusted.pem");
  c.untrusted_key_file = path("untrusted.key");
  c.ca_pem = slurp(c.ca_file);
  c.server_cert_pem = slurp(c.server_cert_file);
  c.server_key_pem = slurp(c.server_key_file);
  c.client_cert_pem = slurp(c.client_cert_file);
  c.client_key_pem = slurp(c.client_key_file);
  c.untrusted_cert_pem = slurp(c.untrusted_cert_file);
  c.untrusted_key_pem = slurp(c.untrusted_key_file);
  return c;
}

// Removes the directory when the test process ends.
struct certificates_holder {
  test_certificates certs = make_certificates();
  ~certificates_holder() {
    std::string command = "rm -rf '" + certs.dir + "'";
    [[maybe_unused]] int ignored = std::system(command.c_str());
  }
};

}  // namespace detail

inline const test_certificates& certificates() {
  static detail::certificates_holder holder;
  return holder.certs;
}

}  // namespace flowstack::test
