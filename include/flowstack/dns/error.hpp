// Errors of the DNS codec, as std::error_code values in category "dns".
//
// The error_code says which rule a message broke; decode_detailed() (message.hpp) also says where
// and with which numbers, in the failure's sentence.
#pragma once

#include <flowstack/core/error.hpp>

#include <system_error>

namespace flowstack::dns {

enum class dns_errc {
  // Decoding
  truncated_header = 1,   // fewer than 12 octets
  truncated_name,         // a name runs past the end of the message or of its rdata
  pointer_loop,           // a compression pointer leads back into the name it is part of
  pointer_forward,        // a compression pointer points at or after itself
  pointer_bad_target,     // a compression pointer points somewhere no name started
  name_too_long,          // more than 255 octets in wire form
  label_too_long,         // a label length octet above 63 (also the unused label types)
  count_mismatch,         // a section count says more records than the message holds
  truncated_question,     // the message ends inside a question's type or class
  truncated_record,       // the message ends inside a record's fixed fields
  truncated_rdata,        // rdlength runs past the end of the message
  rdata_length_mismatch,  // rdlength does not fit the record type's rdata
  malformed_rdata,        // rdata whose inner lengths do not add up (TXT, CAA, SVCB, OPT)
  misplaced_opt,          // an OPT record outside the additional section, or with a name
  duplicate_opt,          // more than one OPT record
  // Encoding and names
  bad_name,              // presentation text that is not a name (empty label, bad escape)
  rdata_type_mismatch,   // a record whose rdata is not of its type's shape
  rdata_too_long,        // rdata longer than 65535 octets
  size_limit_too_small,  // the size limit has no room for the 12-octet header
  message_too_large,     // a TCP message longer than 65535 octets
  no_answer,             // every upstream server asked failed or timed out
  not_a_query,           // a client message that is not a standard query with one question
  // Configuration
  bad_config,  // a forwarder config or resolv.conf that does not parse (the failure says where)
  // Upstreams
  self_connected,  // every query socket opened was connected to itself (source port = server's)
};

const std::error_category& dns_category() noexcept;

inline std::error_code make_error_code(dns_errc e) noexcept {
  return {static_cast<int>(e), dns_category()};
}

}  // namespace flowstack::dns

template <>
struct std::is_error_code_enum<flowstack::dns::dns_errc> : std::true_type {};
