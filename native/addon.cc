// Module entry: per-environment state and the exported binding surface (typed in lib/native.ts).
#include <napi.h>

#include "addon_data.h"
#include "calibrate.h"
#include "capabilities.h"
#include "region.h"

namespace pageflip {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData(data);

  Napi::Function region = Region::Define(env);
  data->region_constructor = Napi::Persistent(region);
  exports.Set("Region", region);
  exports.Set("capabilities", Napi::Function::New<Capabilities>(env, "capabilities"));
  exports.Set("calibrate", Napi::Function::New<Calibrate>(env, "calibrate"));
  return exports;
}

}  // namespace pageflip

static Napi::Object InitPageflip(Napi::Env env, Napi::Object exports) { return pageflip::Init(env, exports); }

NODE_API_MODULE(pageflip, InitPageflip)
