// Per-environment state (one per Node environment / worker): class constructors and test switches.
#pragma once
#include <napi.h>

namespace pageflip {

struct AddonData {
  Napi::FunctionReference region_constructor;
  // What every closed Region's methods act on (see Region::Unwrap); made on first use.
  Napi::ObjectReference closed_region;
  // Test-only: make the zero-copy receive probe fail, as on a kernel without TCP_ZEROCOPY_RECEIVE.
  bool simulate_no_zerocopy = false;

  static AddonData& Of(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }
};

}  // namespace pageflip
