// The combinators are templates (include/flowstack/core/combinators.hpp); this file checks that
// the core types satisfy flow_like.
#include <flowstack/core/combinators.hpp>

namespace flowstack {

static_assert(flow_like<flow>);
static_assert(flow_like<flow_impl>);

}  // namespace flowstack
