// Presentation format, as dig prints it (the header lines, the OPT pseudosection, one line per
// question and record with tab-separated fields).
#pragma once

#include <flowstack/dns/message.hpp>

#include <string>

namespace flowstack::dns {

// "A", "AAAA", … for the types this codec knows, "TYPE<n>" otherwise (RFC 3597).
std::string type_to_string(rr_type type);
// "IN", "CH", "HS", "NONE", "ANY", "CLASS<n>" otherwise.
std::string class_to_string(rr_class c);
// "NOERROR", "NXDOMAIN", …, "RCODE<n>" for codes without a name.
std::string rcode_to_string(std::uint16_t code);
// "QUERY", "NOTIFY", "UPDATE", …, "RESERVED<n>" otherwise.
std::string opcode_to_string(opcode op);

// The rdata field of a record line: "192.0.2.1", "10 mail.example.", "\"text\"", "\\# 2 abcd".
std::string rdata_to_string(const rdata& data);
// "<owner>\t<ttl>\t<class>\t<type>\t<rdata>" with dig's tab stops.
std::string record_to_string(const record& r);
// ";<name>\t\t<class>\t<type>" with dig's tab stops.
std::string question_to_string(const question& q);

// The whole message as dig prints it, from ";; ->>HEADER<<-" to the last section.
std::string to_string(const message& m);

}  // namespace flowstack::dns
