// The address parser of `flowstack cat`: every kind, options, escapes, IPv6, layering, and the
// messages of malformed addresses.

#include "address.hpp"

#include <gtest/gtest.h>

#include <flowstack/net/error.hpp>

#include <string>

#include "kinds.hpp"

namespace flowstack::cli {
namespace {

const kind_registry& kinds() {
  static const kind_registry k = default_kinds();
  return k;
}

address parse_ok(std::string_view text) {
  auto a = parse_address(text, kinds());
  EXPECT_TRUE(a.has_value()) << text << ": " << (a ? "" : a.error().detail);
  return a ? *a : address{};
}

std::string parse_error(std::string_view text, const kind_registry& registry = kinds()) {
  auto a = parse_address(text, registry);
  EXPECT_FALSE(a.has_value()) << text << " parsed";
  if (a) return {};
  // Every malformed address is one code, whatever the sentence says.
  EXPECT_EQ(a.error().code, net::net_errc::invalid_address) << text;
  return a.error().detail;
}

// A registry with a layer kind and a shorthand, for the layering rules before any real layer
// exists: `wrap` is a layer with an option, `wrapped:HOST:PORT` stands for `wrap|tcp:HOST:PORT`.
kind_registry layered_kinds() {
  kind_registry k = default_kinds();
  k.add({.name = "wrap",
         .role = kind_role::layer,
         .args = arg_shape::none,
         .usage = "wrap",
         .help = "a test layer",
         .options = {{"name", option_type::count, "a number", 0}}});
  k.add({.name = "wrapped",
         .role = kind_role::connector,
         .args = arg_shape::host_port,
         .usage = "wrapped:HOST:PORT",
         .help = "wrap|tcp:HOST:PORT",
         .expand = [](const element& e) {
           return std::vector<element>{{"wrap", std::nullopt, e.options, "wrap"},
                                       {"tcp", e.args, {}, "tcp:" + e.args.value_or("")}};
         }});
  return k;
}

// ---- structure ---------------------------------------------------------------------------------

TEST(address_split, element_has_kind_args_and_options) {
  auto e = split_address("tcp:example:80,nodelay,connect-timeout=5");
  ASSERT_TRUE(e) << e.error().detail;
  ASSERT_EQ(e->size(), 1u);
  EXPECT_EQ((*e)[0].kind, "tcp");
  EXPECT_EQ((*e)[0].args, "example:80");
  ASSERT_EQ((*e)[0].options.size(), 2u);
  EXPECT_EQ((*e)[0].options[0], (option{"nodelay", std::nullopt}));
  EXPECT_EQ((*e)[0].options[1], (option{"connect-timeout", "5"}));
}

TEST(address_split, pipe_separates_layers_outermost_first) {
  auto e = split_address("tls,sni=x|tcp:host:443");
  ASSERT_TRUE(e) << e.error().detail;
  ASSERT_EQ(e->size(), 2u);
  EXPECT_EQ((*e)[0].kind, "tls");
  EXPECT_FALSE((*e)[0].args.has_value());
  EXPECT_EQ((*e)[0].options[0], (option{"sni", "x"}));
  EXPECT_EQ((*e)[1].kind, "tcp");
  EXPECT_EQ((*e)[1].args, "host:443");
}

TEST(address_split, backslash_escapes_comma_pipe_and_backslash) {
  auto e = split_address(R"(unix:/tmp/a\,b\|c\\d,opt=x\,y)");
  ASSERT_TRUE(e) << e.error().detail;
  ASSERT_EQ(e->size(), 1u);
  EXPECT_EQ((*e)[0].args, R"(/tmp/a,b|c\d)");
  EXPECT_EQ((*e)[0].options[0], (option{"opt", "x,y"}));
}

TEST(address_split, kind_without_args_has_no_args) {
  auto e = split_address("-");
  ASSERT_TRUE(e) << e.error().detail;
  EXPECT_EQ((*e)[0].kind, "-");
  EXPECT_FALSE((*e)[0].args.has_value());
}

TEST(address_split, value_keeps_equals_signs_after_the_first) {
  auto e = split_address("x,opt=a=b");
  ASSERT_TRUE(e) << e.error().detail;
  EXPECT_EQ((*e)[0].options[0], (option{"opt", "a=b"}));
}

TEST(address_split, backslash_before_other_character_is_an_error) {
  auto e = split_address(R"(unix:/tmp/a\b)");
  ASSERT_FALSE(e);
  EXPECT_EQ(
      e.error().detail,
      R"('\b' at position 12 is not an escape, expected \, \| or \\ (write \\ for a backslash))");
}

TEST(address_split, trailing_backslash_is_an_error) {
  auto e = split_address(R"(unix:/tmp/a\)");
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().detail.find("lone '\\'"), std::string::npos) << e.error().detail;
}

TEST(address_split, empty_element_between_pipes_is_an_error) {
  auto e = split_address("tls||tcp:h:1");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().detail,
            "empty element at position 5, expected KIND[:ARGS] between '|' separators");
}

TEST(address_split, empty_option_is_an_error) {
  auto e = split_address("tcp:h:1,,nodelay");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().detail, "tcp:h:1: empty option at position 9, expected OPTION[=VALUE]");
}

TEST(address_split, missing_kind_is_an_error) {
  auto e = split_address(":80");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().detail, ":80: missing kind before ':', expected KIND[:ARGS]");
}

TEST(address_split, empty_address_is_an_error) {
  auto e = split_address("");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().detail, "empty address, expected KIND[:ARGS], e.g. tcp:HOST:PORT");
}

// ---- kinds -------------------------------------------------------------------------------------

TEST(address_kinds, dash_is_stdio) {
  auto a = parse_ok("-");
  EXPECT_EQ(a.transport.kind->name, "-");
  EXPECT_TRUE(a.layers.empty());
  EXPECT_FALSE(a.is_listener());
}

TEST(address_kinds, tcp_has_host_and_port) {
  auto a = parse_ok("tcp:localhost:8080");
  EXPECT_EQ(a.transport.kind->name, "tcp");
  EXPECT_EQ(a.transport.host, "localhost");
  EXPECT_EQ(a.transport.port, 8080);
  EXPECT_EQ(a.transport.kind->role, kind_role::connector);
}

TEST(address_kinds, tcp_takes_ipv6_host_in_brackets) {
  auto a = parse_ok("tcp:[::1]:443");
  EXPECT_EQ(a.transport.host, "::1");
  EXPECT_EQ(a.transport.port, 443);
}

TEST(address_kinds, tcp_takes_full_ipv6_literal) {
  auto a = parse_ok("tcp:[2001:db8::17]:9");
  EXPECT_EQ(a.transport.host, "2001:db8::17");
}

TEST(address_kinds, tcp_options_are_typed) {
  auto a = parse_ok("tcp:127.0.0.1:80,nodelay,keepalive,connect-timeout=250,rcvbuf=16k");
  EXPECT_TRUE(a.transport.has("nodelay"));
  EXPECT_TRUE(a.transport.has("keepalive"));
  EXPECT_EQ(a.transport.value("connect-timeout"), 250u);
  EXPECT_EQ(a.transport.value("rcvbuf"), 16u * 1024);
}

TEST(address_kinds, tcp_listen_port_only_binds_all_addresses) {
  auto a = parse_ok("tcp-listen:8080");
  EXPECT_TRUE(a.is_listener());
  EXPECT_EQ(a.transport.host, "");
  EXPECT_EQ(a.transport.port, 8080);
}

TEST(address_kinds, tcp_listen_takes_a_bind_host) {
  auto a = parse_ok("tcp-listen:[::1]:0");
  EXPECT_EQ(a.transport.host, "::1");
  EXPECT_EQ(a.transport.port, 0);
}

TEST(address_kinds, tcp_listen_takes_fork_and_max_children) {
  auto a = parse_ok("tcp-listen:127.0.0.1:9000,fork,max-children=3");
  EXPECT_TRUE(a.transport.has("fork"));
  EXPECT_EQ(a.transport.value("max-children"), 3u);
}

TEST(address_kinds, unix_has_a_path) {
  auto a = parse_ok("unix:/run/x.sock");
  EXPECT_EQ(a.transport.kind->name, "unix");
  EXPECT_EQ(a.transport.path, "/run/x.sock");
}

TEST(address_kinds, unix_path_may_hold_colons_and_escaped_commas) {
  auto a = parse_ok(R"(unix:/tmp/a:b\,c)");
  EXPECT_EQ(a.transport.path, "/tmp/a:b,c");
}

TEST(address_kinds, unix_listen_takes_fork) {
  auto a = parse_ok("unix-listen:/tmp/s,fork,max-children=2");
  EXPECT_TRUE(a.is_listener());
  EXPECT_EQ(a.transport.path, "/tmp/s");
  EXPECT_EQ(a.transport.value("max-children"), 2u);
}

TEST(address_kinds, an_at_sign_path_reaches_the_socket_module_as_written_for_its_abstract_name) {
  EXPECT_EQ(parse_ok("unix:@name").transport.path, "@name");
  EXPECT_EQ(parse_ok("unix-listen:@name,fork").transport.path, "@name");
  EXPECT_EQ(parse_ok("unix:./@name").transport.path, "./@name");
}

TEST(address_kinds, help_says_how_to_write_an_abstract_unix_name_and_a_file_named_with_an_at) {
  auto help = kinds().describe();
  EXPECT_NE(help.find("unix:@NAME"), std::string::npos) << help;
  EXPECT_NE(help.find("./@x"), std::string::npos) << help;
}

TEST(address_kinds, help_lists_every_kind_with_usage) {
  auto help = kinds().describe();
  for (const char* usage :
       {"tcp:HOST:PORT", "tcp-listen:[HOST:]PORT", "unix:PATH", "unix-listen:PATH", ",fork",
        ",max-children=N", ",connect-timeout=MS", ",rcvbuf=BYTES"})
    EXPECT_NE(help.find(usage), std::string::npos) << usage;
}

// ---- layering ----------------------------------------------------------------------------------

TEST(address_layers, layers_parse_outermost_first) {
  auto registry = layered_kinds();
  auto a = parse_address("wrap,name=1|wrap|tcp:h:1", registry);
  ASSERT_TRUE(a) << a.error().detail;
  ASSERT_EQ(a->layers.size(), 2u);
  EXPECT_EQ(a->layers[0].kind->name, "wrap");
  EXPECT_EQ(a->layers[0].value("name"), 1u);
  EXPECT_FALSE(a->layers[1].has("name"));
  EXPECT_EQ(a->transport.kind->name, "tcp");
}

TEST(address_layers, shorthand_expands_to_layer_and_transport) {
  auto registry = layered_kinds();
  auto a = parse_address("wrapped:h:7,name=2", registry);
  ASSERT_TRUE(a) << a.error().detail;
  ASSERT_EQ(a->layers.size(), 1u);
  EXPECT_EQ(a->layers[0].kind->name, "wrap");
  EXPECT_EQ(a->layers[0].value("name"), 2u);
  EXPECT_EQ(a->transport.kind->name, "tcp");
  EXPECT_EQ(a->transport.port, 7);
}

TEST(address_layers, layer_without_transport_is_an_error) {
  EXPECT_EQ(parse_error("wrap", layered_kinds()),
            "'wrap' is a layer and needs a transport after it, expected wrap|TRANSPORT, e.g. "
            "wrap|tcp:HOST:PORT");
}

TEST(address_layers, transport_before_the_last_element_is_an_error) {
  EXPECT_EQ(parse_error("tcp:h:1|wrap", layered_kinds()),
            "'tcp:h:1' is a transport, so it must be the last element, expected "
            "LAYER|...|TRANSPORT");
}

// ---- malformed ---------------------------------------------------------------------------------

TEST(address_malformed, tcp_without_port) {
  EXPECT_EQ(parse_error("tcp:localhost"), "tcp:localhost: missing port, expected tcp:HOST:PORT");
}

TEST(address_malformed, tcp_without_host) {
  EXPECT_EQ(parse_error("tcp:80"), "tcp:80: missing host, expected tcp:HOST:PORT");
}

TEST(address_malformed, tcp_without_args) {
  EXPECT_EQ(parse_error("tcp"), "tcp: missing HOST:PORT, expected tcp:HOST:PORT");
}

TEST(address_malformed, tcp_with_empty_host) {
  EXPECT_EQ(parse_error("tcp::80"), "tcp::80: missing host before ':', expected tcp:HOST:PORT");
}

TEST(address_malformed, port_out_of_range) {
  EXPECT_EQ(parse_error("tcp:h:65536"),
            "tcp:h:65536: port 65536 is out of range 1-65535, expected tcp:HOST:PORT");
}

TEST(address_malformed, port_zero_for_a_connector) {
  EXPECT_EQ(parse_error("tcp:h:0"),
            "tcp:h:0: port 0 is out of range 1-65535, expected tcp:HOST:PORT");
}

TEST(address_malformed, port_not_a_number) {
  EXPECT_EQ(parse_error("tcp:h:http"),
            "tcp:h:http: port 'http' is not a number, expected tcp:HOST:PORT");
}

TEST(address_malformed, ipv6_without_brackets) {
  EXPECT_EQ(parse_error("tcp:::1:80"),
            "tcp:::1:80: IPv6 host must be written in brackets, e.g. [::1]:PORT, expected "
            "tcp:HOST:PORT");
}

TEST(address_malformed, unterminated_bracket) {
  EXPECT_EQ(parse_error("tcp:[::1:80"),
            "tcp:[::1:80: unterminated '[' in IPv6 host, expected tcp:HOST:PORT");
}

TEST(address_malformed, bracketed_host_that_is_not_ipv6) {
  EXPECT_EQ(parse_error("tcp:[nope]:80"),
            "tcp:[nope]:80: '[nope]' is not an IPv6 address, expected tcp:HOST:PORT");
}

TEST(address_malformed, bracketed_host_without_port) {
  EXPECT_EQ(parse_error("tcp:[::1]"), "tcp:[::1]: missing port, expected tcp:HOST:PORT");
}

TEST(address_malformed, host_with_invalid_characters) {
  EXPECT_EQ(parse_error("tcp:a b:80"),
            "tcp:a b:80: 'a b' is not a host name or address, expected tcp:HOST:PORT");
}

TEST(address_malformed, unknown_kind_lists_the_known_ones) {
  EXPECT_EQ(parse_error("localhost:80"),
            "unknown kind 'localhost' in 'localhost:80', expected one of -, tcp, tcp-listen, "
            "unix, unix-listen, tls, tls-listen, stack, stack-listen, vchan, vchan-listen");
}

TEST(address_malformed, unknown_option_lists_the_known_ones) {
  EXPECT_EQ(parse_error("tcp:h:1,fast"),
            "tcp:h:1: unknown option 'fast', expected one of nodelay, keepalive, "
            "connect-timeout=MS, rcvbuf=BYTES");
}

TEST(address_malformed, option_on_a_kind_without_options) {
  EXPECT_EQ(parse_error("-,fork"), "-: unknown option 'fork', '-' takes no options");
}

TEST(address_malformed, flag_with_a_value) {
  EXPECT_EQ(parse_error("tcp:h:1,nodelay=1"),
            "tcp:h:1: option 'nodelay' takes no value, expected nodelay");
}

TEST(address_malformed, valued_option_without_value) {
  EXPECT_EQ(parse_error("tcp:h:1,connect-timeout"),
            "tcp:h:1: option 'connect-timeout' needs a value, expected connect-timeout=MS");
}

TEST(address_malformed, option_value_not_a_number) {
  EXPECT_EQ(parse_error("tcp:h:1,rcvbuf=lots"),
            "tcp:h:1: rcvbuf value 'lots' is not a number, expected rcvbuf=BYTES");
}

TEST(address_malformed, option_value_below_minimum) {
  EXPECT_EQ(parse_error("tcp-listen:1,fork,max-children=0"),
            "tcp-listen:1: max-children must be at least 1, expected max-children=N");
}

TEST(address_malformed, option_given_twice) {
  EXPECT_EQ(parse_error("tcp:h:1,nodelay,nodelay"), "tcp:h:1: option 'nodelay' given twice");
}

TEST(address_malformed, max_children_without_fork) {
  EXPECT_EQ(parse_error("tcp-listen:80,max-children=2"),
            "tcp-listen:80: max-children needs fork, expected tcp-listen:[HOST:]PORT");
}

TEST(address_malformed, dash_with_args) {
  EXPECT_EQ(parse_error("-:x"), "-:x: '-' takes no arguments, expected -");
}

TEST(address_malformed, unix_without_path) {
  EXPECT_EQ(parse_error("unix:"), "unix:: missing PATH, expected unix:PATH");
}

TEST(address_malformed, unix_path_too_long_for_a_socket_address) {
  std::string path = "/tmp/" + std::string(103, 'x');  // 108 bytes: sun_path holds 107
  EXPECT_EQ(parse_error("unix:" + path), "unix:" + path +
                                             ": PATH is 108 bytes, longer than the 107 a Unix "
                                             "socket address holds, expected unix:PATH");
  EXPECT_EQ(parse_error("unix-listen:" + path + ",fork"),
            "unix-listen:" + path +
                ": PATH is 108 bytes, longer than the 107 a Unix socket address holds, "
                "expected unix-listen:PATH");
}

TEST(address_kinds, unix_path_of_the_longest_a_socket_address_holds) {
  std::string path = "/tmp/" + std::string(102, 'x');
  EXPECT_EQ(parse_ok("unix:" + path).transport.path, path);
  EXPECT_EQ(parse_ok("unix-listen:" + path).transport.path, path);
}

TEST(address_malformed, tcp_listen_without_port) {
  EXPECT_EQ(parse_error("tcp-listen"), "tcp-listen: missing PORT, expected tcp-listen:[HOST:]PORT");
}

TEST(address_malformed, number_too_large_for_64_bits) {
  EXPECT_EQ(parse_error("tcp:h:1,rcvbuf=99999999999999999999"),
            "tcp:h:1: rcvbuf value '99999999999999999999' is not a number, expected rcvbuf=BYTES");
}

// ---- text options and tls
// ------------------------------------------------------------------------

TEST(address_tls, text_option_keeps_its_value_with_escapes_resolved) {
  auto a = parse_ok("tls,sni=localhost,ca=/tmp/a\\,b\\|c.pem|tcp:h:1");
  ASSERT_EQ(a.layers.size(), 1u);
  EXPECT_EQ(a.layers[0].text_value("sni"), "localhost");
  EXPECT_EQ(a.layers[0].text_value("ca"), "/tmp/a,b|c.pem");
  EXPECT_FALSE(a.layers[0].text_value("cert"));
}

TEST(address_tls, text_option_needs_a_value) {
  EXPECT_NE(parse_error("tls,sni|tcp:h:1").find("option 'sni' needs a value, expected sni=VALUE"),
            std::string::npos);
  EXPECT_NE(parse_error("tls,sni=|tcp:h:1").find("option 'sni' needs a value"), std::string::npos);
}

TEST(address_tls, shorthand_is_the_layer_over_tcp_with_the_host_as_server_name) {
  auto a = parse_ok("tls:example.org:443,ca=ca.pem,nodelay");
  ASSERT_EQ(a.layers.size(), 1u);
  EXPECT_EQ(a.layers[0].kind->name, "tls");
  EXPECT_EQ(a.layers[0].text_value("sni"), "example.org");
  EXPECT_EQ(a.layers[0].text_value("ca"), "ca.pem");
  EXPECT_EQ(a.transport.kind->name, "tcp");
  EXPECT_EQ(a.transport.host, "example.org");
  EXPECT_EQ(a.transport.port, 443);
  EXPECT_TRUE(a.transport.has("nodelay"));
  EXPECT_FALSE(a.layers[0].has("nodelay"));
}

TEST(address_tls, shorthand_keeps_a_given_server_name) {
  auto a = parse_ok("tls:127.0.0.1:443,sni=localhost");
  ASSERT_EQ(a.layers.size(), 1u);
  EXPECT_EQ(a.layers[0].text_value("sni"), "localhost");
}

TEST(address_tls, listen_shorthand_gives_tls_options_to_the_layer_and_the_rest_to_tcp_listen) {
  auto a = parse_ok("tls-listen:127.0.0.1:8443,cert=c.pem,key=k.pem,fork,max-children=3,alpn=a:b");
  ASSERT_EQ(a.layers.size(), 1u);
  EXPECT_EQ(a.layers[0].text_value("cert"), "c.pem");
  EXPECT_EQ(a.layers[0].text_value("key"), "k.pem");
  EXPECT_EQ(a.layers[0].text_value("alpn"), "a:b");
  EXPECT_EQ(a.transport.kind->name, "tcp-listen");
  EXPECT_EQ(a.transport.port, 8443);
  EXPECT_TRUE(a.transport.has("fork"));
  EXPECT_EQ(a.transport.value("max-children"), 3u);
  EXPECT_TRUE(a.is_listener());
}

TEST(address_tls, accepting_without_certificate_says_what_is_needed) {
  EXPECT_NE(parse_error("tls-listen:8443").find("accepting TLS needs cert=FILE and key=FILE"),
            std::string::npos);
  EXPECT_NE(parse_error("tls|unix-listen:/tmp/x").find("accepting TLS needs cert=FILE"),
            std::string::npos);
}

TEST(address_tls, certificate_without_key_is_an_error) {
  EXPECT_NE(parse_error("tls-listen:8443,cert=c.pem").find("cert and key go together"),
            std::string::npos);
}

TEST(address_tls, verifying_client_layer_needs_a_server_name) {
  EXPECT_NE(parse_error("tls|unix:/tmp/x").find("needs sni=NAME"), std::string::npos);
  parse_ok("tls,verify=0|unix:/tmp/x");
}

TEST(address_tls, verify_is_zero_or_one) {
  EXPECT_NE(parse_error("tls:h:1,verify=2").find("verify must be 0 or 1"), std::string::npos);
}

TEST(address_tls, max_handshakes_goes_to_the_layer_of_an_accepting_address_only) {
  auto a = parse_ok("tls-listen:8443,cert=c.pem,key=k.pem,fork,max-handshakes=5");
  ASSERT_EQ(a.layers.size(), 1u);
  EXPECT_EQ(a.layers[0].value("max-handshakes"), 5u);
  EXPECT_NE(parse_error("tls:h:1,max-handshakes=5").find("max-handshakes is for accepting TLS"),
            std::string::npos);
  EXPECT_NE(parse_error("tls-listen:8443,cert=c.pem,key=k.pem,fork,max-handshakes=0")
                .find("must be at least 1"),
            std::string::npos);
}

}  // namespace
}  // namespace flowstack::cli
