// Runs the flow contract (flow_contract_*_test.cpp) against every flow kind of kinds.hpp.
#include <string>

#include "conformance/flow_contract.hpp"
#include "conformance/kinds.hpp"

namespace flowstack::conformance {
namespace {

template <typename Kind>
constexpr kind_info info_of() {
  return {Kind::name, &Kind::make_pair, bulk_bytes_of<Kind>(), abort_needs_unread_bytes_of<Kind>()};
}

const kind_info all_kinds[] = {
    info_of<memory_kind>(),
    info_of<memory_cut_kind>(),
    info_of<layered_memory_kind>(),
    info_of<tcp_v4_kind>(),
    info_of<tcp_v6_kind>(),
    info_of<unix_kind>(),
    info_of<vchan_kind>(),
    info_of<vchan_mixed_rings_kind>(),
    info_of<vchan_in_page_rings_kind>(),
    info_of<vchan_two_processes_kind>(),
    info_of<tls_memory_kind>(),
    info_of<tls_tcp_v4_kind>(),
    info_of<direct_tcp_kind>(),
    info_of<tls_direct_tcp_kind>(),
};

std::string kind_name(const ::testing::TestParamInfo<kind_info>& info) {
  return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(every_kind, flow_contract, ::testing::ValuesIn(all_kinds), kind_name);

}  // namespace
}  // namespace flowstack::conformance
