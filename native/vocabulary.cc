// The addon's `vocabulary` export: vocabulary.h's names and limits as JS values, so the
// TypeScript side (lib/vocabulary.ts) is checked against them rather than trusted to agree.
#include "vocabulary.h"

#include <napi.h>

namespace pageflip {

template <class Mode, size_t N>
Napi::Array ModeNames(Napi::Env env, const ModeName<Mode> (&table)[N]) {
  Napi::Array names = Napi::Array::New(env, N);
  for (size_t i = 0; i < N; i++) names.Set(uint32_t(i), table[i].name);
  return names;
}

Napi::Object Vocabulary(Napi::Env env) {
  Napi::Object v = Napi::Object::New(env);
  v.Set("receiveModes", ModeNames(env, kReceiveModes));
  v.Set("receiverModeCount", double(kReceiverModeCount));
  v.Set("sendModes", ModeNames(env, kSendModes));
  v.Set("defaultChunkSize", double(kDefaultChunk));
  v.Set("maxChunkSize", double(kMaxChunk));
  v.Set("maxDefaultLowWater", double(kMaxDefaultLowWater));
  v.Set("maxCopybuf", double(kMaxCopybuf));
  v.Set("maxSlots", double(kMaxSlots));
  v.Set("minLinkMtu", double(kMinLinkMtu));
  v.Set("maxLinkMtu", double(kMaxLinkMtu));
  v.Set("pmdBytes", double(kPmdBytes));
  v.Freeze();
  return v;
}

}  // namespace pageflip
