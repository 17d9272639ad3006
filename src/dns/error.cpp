#include <flowstack/dns/error.hpp>

#include <string>

namespace flowstack::dns {
namespace {

class dns_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "dns"; }
  std::string message(int code) const override {
    switch (static_cast<dns_errc>(code)) {
      case dns_errc::truncated_header:
        return "message shorter than the 12-octet DNS header";
      case dns_errc::truncated_name:
        return "name runs past the end of the message";
      case dns_errc::pointer_loop:
        return "compression pointer loop";
      case dns_errc::pointer_forward:
        return "compression pointer points forward";
      case dns_errc::pointer_bad_target:
        return "compression pointer does not point to the start of an earlier name";
      case dns_errc::name_too_long:
        return "name longer than 255 octets";
      case dns_errc::label_too_long:
        return "label longer than 63 octets";
      case dns_errc::count_mismatch:
        return "record count says more records than the message holds";
      case dns_errc::truncated_question:
        return "truncated question";
      case dns_errc::truncated_record:
        return "truncated record";
      case dns_errc::truncated_rdata:
        return "truncated record rdata";
      case dns_errc::rdata_length_mismatch:
        return "rdata length does not match the record type";
      case dns_errc::malformed_rdata:
        return "malformed record rdata";
      case dns_errc::misplaced_opt:
        return "OPT record outside the additional section or not owned by the root";
      case dns_errc::duplicate_opt:
        return "more than one OPT record";
      case dns_errc::bad_name:
        return "not a domain name";
      case dns_errc::rdata_type_mismatch:
        return "record data does not have the shape of the record type";
      case dns_errc::rdata_too_long:
        return "record data longer than 65535 octets";
      case dns_errc::size_limit_too_small:
        return "size limit too small for a DNS header";
      case dns_errc::message_too_large:
        return "DNS message longer than 65535 octets";
      case dns_errc::no_answer:
        return "no upstream server answered";
      case dns_errc::not_a_query:
        return "not a standard query with exactly one question";
      case dns_errc::bad_config:
        return "DNS forwarder configuration does not parse";
      case dns_errc::self_connected:
        return "the kernel gave the upstream server's own port as the source port: the query "
               "socket was connected to itself (is the server down?)";
    }
    return "unknown dns error " + std::to_string(code);
  }
};

}  // namespace

const std::error_category& dns_category() noexcept {
  static const dns_category_impl category;
  return category;
}

}  // namespace flowstack::dns
