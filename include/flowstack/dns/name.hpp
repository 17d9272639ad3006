// Domain names, stored as a list of labels (without the empty root label).
//
// A name is always valid: every label is 1..63 octets and the wire form is at most 255 octets,
// so the constructors that take outside input return result<name>. Labels are octet strings;
// comparison and hashing ignore ASCII case only (RFC 4343), other octets compare exactly.
#pragma once

#include <flowstack/core/error.hpp>
#include <flowstack/dns/error.hpp>

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace flowstack::dns {

class name {
 public:
  static constexpr std::size_t max_wire_length = 255;
  static constexpr std::size_t max_label_length = 63;

  name() = default;  // the root

  // From labels (most specific first); fails name_too_long / label_too_long / bad_name (empty).
  static result<name> from_labels(std::vector<std::string> labels);
  // From presentation text: "www.example.com" or "www.example.com." (always absolute), "." for
  // the root, with the escapes \. \\ and \DDD. Fails bad_name and the length errors.
  static result<name> parse(std::string_view text);

  const std::vector<std::string>& labels() const noexcept { return labels_; }
  bool is_root() const noexcept { return labels_.empty(); }
  // Octets in uncompressed wire form, including the root's zero octet.
  std::size_t wire_length() const noexcept;

  // Presentation form with a trailing dot, escaping as dig does: . \ " ( ) ; @ $ get a backslash,
  // octets outside 0x21..0x7e become \DDD.
  std::string to_string() const;
  // The same name with ASCII letters lowercased (cache keys).
  name lowercased() const;

  // True when this name equals `zone` or lies below it (case-insensitive).
  bool is_subdomain_of(const name& zone) const noexcept;
  // Exact comparison, case included (equality proper ignores case).
  bool identical(const name& other) const noexcept { return labels_ == other.labels_; }

  friend bool operator==(const name& a, const name& b) noexcept;

 private:
  explicit name(std::vector<std::string> labels) : labels_(std::move(labels)) {}

  std::vector<std::string> labels_;
};

// ASCII-only case-insensitive comparison of two labels.
bool label_equal(std::string_view a, std::string_view b) noexcept;

}  // namespace flowstack::dns

template <>
struct std::hash<flowstack::dns::name> {
  std::size_t operator()(const flowstack::dns::name& n) const noexcept;
};
