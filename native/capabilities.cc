#include "capabilities.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <string>

#include "args.h"
#include "addon_data.h"
#include "region.h"
#include "zerocopy.h"

namespace pageflip {

namespace {

Napi::Object Feature(Napi::Env env, bool supported, const std::string& reason) {
  Napi::Object feature = Napi::Object::New(env);
  feature.Set("supported", supported);
  feature.Set("reason", reason);
  return feature;
}

Napi::Object ExternalBuffers(Napi::Env env) {
  static uint8_t probe_byte;
  napi_value buffer = nullptr;
  napi_status status = napi_create_external_arraybuffer(env, &probe_byte, 1, nullptr, nullptr, &buffer);
  if (status == napi_ok) {
    napi_detach_arraybuffer(env, buffer);
    return Feature(env, true, "external ArrayBuffers are allowed");
  }
  return Feature(env, false,
                 status == napi_no_external_buffers_allowed
                     ? "this runtime forbids external ArrayBuffers (V8 sandbox): mapped pages cannot be exposed"
                     : "napi_create_external_arraybuffer failed with status " + std::to_string(status));
}

}  // namespace

Napi::Value Capabilities(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object caps = Napi::Object::New(env);
  struct utsname uts {};
  uname(&uts);
  caps.Set("kernelRelease", uts.release);
  caps.Set("machine", uts.machine);
  caps.Set("pageSize", static_cast<double>(PageSize()));
  caps.Set("cpus", static_cast<double>(sysconf(_SC_NPROCESSORS_ONLN)));
  bool dontunmap = MremapDontUnmapSupported();
  caps.Set("mremapDontUnmap",
           Feature(env, dontunmap,
                   dontunmap ? "mremap(MREMAP_DONTUNMAP) works on anonymous memory"
                             : "mremap(MREMAP_DONTUNMAP) was refused (needs Linux 5.7+); moves re-map the source"));
  caps.Set("externalBuffers", ExternalBuffers(env));
  ZerocopyProbe zc = ProbeZerocopyReceive(AddonData::Of(env).simulate_no_zerocopy);
  Napi::Object zerocopy = Feature(env, zc.supported, zc.reason);
  zerocopy.Set("abi", zc.supported ? Napi::Value(Napi::String::New(env, AbiName(zc.abi))) : env.Null());
  caps.Set("zerocopyReceive", zerocopy);
  caps.Set("msgZerocopy", Feature(env, ProbeMsgZerocopy().supported, ProbeMsgZerocopy().reason));
  caps.Set("splice", Feature(env, ProbeSplice().supported, ProbeSplice().reason));
  return caps;
}

}  // namespace pageflip
