#!/usr/bin/env python3
"""Writes the seed corpus of dns_fuzz (fuzz/corpus/dns/): real-looking DNS messages, built
octet by octet as servers and dig write them. Run from the repository root."""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "dns")


def name(dotted):
    out = b""
    for label in dotted.split(".") if dotted not in ("", ".") else []:
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def ptr(offset):
    return struct.pack(">H", 0xC000 | offset)


def header(ident, flags, qd, an, ns, ar):
    return struct.pack(">HHHHHH", ident, flags, qd, an, ns, ar)


def rr(owner, rtype, ttl, rdata, rclass=1):
    return owner + struct.pack(">HHIH", rtype, rclass, ttl, len(rdata)) + rdata


def opt(size=1232, do=False, options=b"", ext=0):
    return b"\0" + struct.pack(">HHIH", 41, size, (ext << 24) | (0x8000 if do else 0), len(options)) + options


def question(qname, qtype=1):
    return name(qname) + struct.pack(">HH", qtype, 1)


COOKIE = struct.pack(">HH", 10, 8) + bytes.fromhex("3a9c115207e4d16b")

seeds = {}

# dig example.com A (RD AD, EDNS 1232 with a client cookie)
seeds["query_a_edns"] = header(0x8C1F, 0x0120, 1, 0, 0, 1) + question("example.com") + opt(options=COOKIE)

# plain query without EDNS, AAAA
seeds["query_aaaa"] = header(0x0001, 0x0100, 1, 0, 0, 0) + question("www.example.org", 28)

# answer: CNAME chain to an A record, compressed
m = header(0x4242, 0x8180, 1, 3, 0, 0) + question("www.example.com")
cdn = len(m) + 12
m += rr(ptr(12), 5, 300, name("cdn.example.net"))
edge = len(m) + 12
m += rr(ptr(cdn), 5, 300, b"\x04edge" + ptr(cdn))
m += rr(ptr(edge), 1, 60, bytes([192, 0, 2, 10]))
seeds["answer_cname_chain"] = m

# NXDOMAIN with SOA in authority
m = header(0x0102, 0x8183, 1, 0, 1, 1) + question("nothere.example.com")
soa = b"\x03ns1" + ptr(20) + b"\x0ahostmaster" + ptr(20) + struct.pack(">IIIII", 2024010101, 7200, 900, 1209600, 300)
m += rr(ptr(20), 6, 3600, soa) + opt(do=True)
seeds["answer_nxdomain_soa"] = m

# MX answer with glue
m = header(0x1111, 0x8580, 1, 2, 0, 2) + question("example.com", 15)
mx1 = len(m) + 12 + 2
m += rr(ptr(12), 15, 3600, struct.pack(">H", 10) + b"\x04mail" + ptr(12))
mx2 = len(m) + 12 + 2
m += rr(ptr(12), 15, 3600, struct.pack(">H", 20) + b"\x05mail2" + ptr(12))
m += rr(ptr(mx1), 1, 3600, bytes([192, 0, 2, 25]))
m += rr(ptr(mx2), 28, 3600, bytes.fromhex("20010db8000000000000000000000025"))
seeds["answer_mx_glue"] = m

# TXT with several strings and special characters
m = header(0x2222, 0x8180, 1, 1, 0, 0) + question("example.com", 16)
txt = b"".join(bytes([len(s)]) + s for s in [b"v=spf1 -all", b"", b'quote" back\\ \x01\xff'])
m += rr(ptr(12), 16, 60, txt)
seeds["answer_txt"] = m

# SRV
m = header(0x3333, 0x8180, 1, 1, 0, 0) + question("_sip._tcp.example.com", 33)
m += rr(ptr(12), 33, 60, struct.pack(">HHH", 10, 60, 5060) + name("sip.example.com"))
seeds["answer_srv"] = m

# HTTPS with alpn, port, ipv4hint, ipv6hint
params = struct.pack(">HH", 1, 6) + b"\x02h2\x02h3" + struct.pack(">HHH", 3, 2, 443)
params += struct.pack(">HH", 4, 4) + bytes([192, 0, 2, 1]) + struct.pack(">HH", 6, 16) + bytes.fromhex("20010db8000000000000000000000001")
m = header(0x4444, 0x8180, 1, 1, 0, 1) + question("example.com", 65)
m += rr(ptr(12), 65, 300, struct.pack(">H", 1) + b"\0" + params) + opt()
seeds["answer_https"] = m

# CAA and PTR and NS and an unknown type
m = header(0x5555, 0x8180, 1, 4, 0, 0) + question("example.com", 255)
m += rr(ptr(12), 257, 60, b"\x00\x05issue" + b"letsencrypt.org")
m += rr(ptr(12), 2, 86400, name("a.iana-servers.net"))
m += rr(name("1.2.0.192.in-addr.arpa"), 12, 60, ptr(12))
m += rr(ptr(12), 65280, 60, bytes([1, 2, 3, 0xC0, 0x0C]))
seeds["answer_mixed_types"] = m

# SERVFAIL with an extended rcode and EDE option
m = header(0x6666, 0x8182, 1, 0, 0, 1) + question("broken.example")
m += opt(options=struct.pack(">HHH", 15, 2, 22))
seeds["answer_servfail_ede"] = m

# Truncated answer (TC) over UDP
m = header(0x7777, 0x8380, 1, 2, 0, 0) + question("big.example.com")
for i in range(2):
    m += rr(ptr(12), 1, 60, bytes([10, 0, 0, i]))
seeds["answer_tc"] = m

# Dynamic update (class NONE delete, empty rdata)
m = header(0x8888, 0x2800, 1, 0, 1, 0) + name("example.com") + struct.pack(">HH", 6, 1)
m += rr(name("host.example.com"), 1, 0, b"", rclass=254)
seeds["update_delete"] = m

# Malformed: pointer loop, forward pointer, count that lies
seeds["bad_pointer_loop"] = header(1, 0, 1, 0, 0, 0) + ptr(12) + struct.pack(">HH", 1, 1)
seeds["bad_pointer_forward"] = header(1, 0, 1, 0, 0, 0) + ptr(20) + struct.pack(">HH", 1, 1) + name("a.b")
seeds["bad_count"] = header(1, 0x8180, 1, 5, 0, 0) + question("example.com") + rr(ptr(12), 1, 60, bytes(4))

os.makedirs(OUT, exist_ok=True)
for label, data in sorted(seeds.items()):
    with open(os.path.join(OUT, label), "wb") as f:
        f.write(data)
print(f"wrote {len(seeds)} seeds to {OUT}")
