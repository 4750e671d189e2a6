#include "region.h"

#include <sys/mman.h>

#include <cerrno>

#include "addon_data.h"
#include "args.h"
#include "errors.h"
#include "external_buffer.h"

namespace pageflip {

namespace {

constexpr size_t kHugePageSize = 2 * 1024 * 1024;

// Keeps the mapping alive for as long as V8 holds the ArrayBuffer.
struct MappingOwner {
  MappingPtr mapping;
};

}  // namespace

bool MremapDontUnmapSupported() {
  static const bool supported = [] {
    size_t page = PageSize();
    void* src = mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (src == MAP_FAILED) return false;
    void* dst = mremap(src, page, page, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, nullptr);
    bool ok = dst != MAP_FAILED;
    if (ok) munmap(dst, page);
    munmap(src, page);
    return ok;
  }();
  return supported;
}

Napi::Function Region::Define(Napi::Env env) {
  return DefineClass(env, "Region",
                     {
                         InstanceMethod<&Region::Buffer>("buffer"),
                         InstanceMethod<&Region::Address>("address"),
                         InstanceMethod<&Region::Length>("length"),
                         InstanceMethod<&Region::Closed>("closed"),
                         InstanceMethod<&Region::MoveTo>("moveTo"),
                         InstanceMethod<&Region::Remap>("remap"),
                         InstanceMethod<&Region::Close>("close"),
                     });
}

Region::Region(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Region>(info) {
  Napi::Env env = info.Env();
  length_ = ToPageMultiple(env, info[0], "bytes");
  Napi::Object options = ToObjectOrEmpty(env, info[1], "options");
  huge_ = ToBoolOr(env, options.Get("hugePages"), "options.hugePages", false);
  bool populate = ToBoolOr(env, options.Get("populate"), "options.populate", false);

  void* data = nullptr;
  if (huge_) {
    data = MapAnonymousAligned(length_, kHugePageSize, PROT_READ | PROT_WRITE, MAP_NORESERVE);
    if (!data) ThrowErrno(env, errno, "mmap", "could not reserve " + std::to_string(length_) + " bytes");
    // Ask for transparent huge pages; whether the kernel gave them is visible in smaps.
    madvise(data, length_, MADV_HUGEPAGE);
  } else {
    data = mmap(nullptr, length_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | (populate ? MAP_POPULATE : 0),
                -1, 0);
    if (data == MAP_FAILED) ThrowErrno(env, errno, "mmap", "could not map " + std::to_string(length_) + " bytes");
  }
  mapping_ = std::make_shared<Mapping>(env, data, length_);
  if (huge_ && populate) {
    // Pre-fault after the huge-page advice so the faults can be served with huge pages.
    if (madvise(data, length_, MADV_POPULATE_WRITE) != 0) {
      volatile uint8_t* bytes = static_cast<uint8_t*>(data);
      for (size_t i = 0; i < length_; i += PageSize()) bytes[i] = 0;
    }
  }
}

Region* Region::FromValue(Napi::Env env, Napi::Value value, const char* what) {
  void* wrapped = nullptr;
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(AddonData::Of(env).region_constructor.Value()) ||
      napi_unwrap(env, value, &wrapped) != napi_ok || wrapped == nullptr)
    ThrowTypeError(env, std::string(what) + " must be a PageRegion");
  return static_cast<Region*>(wrapped);
}

Mapping& Region::OpenMapping(Napi::Env env, const char* operation) {
  if (!mapping_) ThrowState(env, "ERR_PAGEFLIP_CLOSED", std::string("cannot ") + operation + ": the region is closed");
  if (lent_)
    ThrowState(env, "ERR_PAGEFLIP_BUSY", std::string("cannot ") + operation + ": the region is lent to a send in progress");
  return *mapping_;
}

MappingPtr Region::Lend(Napi::Env env) {
  OpenMapping(env, "send");
  DetachBuffer();
  lent_ = true;
  return mapping_;
}

void Region::Return(bool consumed) {
  lent_ = false;
  if (consumed && mapping_) {
    mapping_->Unmap();  // our reference only: the kernel keeps the gifted pages until sent
    mapping_.reset();
  }
}

void Region::DetachBuffer() {
  if (buffer_.IsEmpty()) return;
  Napi::ArrayBuffer buffer = buffer_.Value();
  if (!buffer.IsEmpty() && !buffer.IsDetached()) buffer.Detach();
  buffer_.Reset();
}

Napi::Value Region::Buffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Mapping& mapping = OpenMapping(env, "get a view");
  if (buffer_.IsEmpty()) {
    auto owner = std::make_unique<MappingOwner>(MappingOwner{mapping_});
    Napi::ArrayBuffer buffer = NewExternalArrayBuffer(env, mapping.data(), mapping.length(), std::move(owner));
    buffer_ = Napi::Persistent(buffer);
  }
  return buffer_.Value();
}

Napi::Value Region::Address(const Napi::CallbackInfo& info) {
  Mapping& mapping = OpenMapping(info.Env(), "read the address");
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(reinterpret_cast<uintptr_t>(mapping.data())));
}

Napi::Value Region::Length(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(length_));
}

Napi::Value Region::Closed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !mapping_); }

Napi::Value Region::MoveTo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Mapping& source = OpenMapping(env, "move pages");
  Region* dest = FromValue(env, info[0], "destination");
  if (dest == this) ThrowState(env, "ERR_PAGEFLIP_SAME_REGION", "cannot move a region onto itself");
  Mapping& target = dest->OpenMapping(env, "move pages into the destination");
  if (target.length() != source.length())
    throw CodedRangeError(env, "ERR_PAGEFLIP_LENGTH_MISMATCH",
                          "regions differ in length (" + std::to_string(source.length()) + " vs " +
                              std::to_string(target.length()) + " bytes)");
  // The source stays mapped (empty, reads as zeros): with MREMAP_DONTUNMAP where the kernel has
  // it, else by mapping fresh anonymous pages back.
  DontUnmap dontunmap = MremapDontUnmapSupported() ? DontUnmap::kOn : DontUnmap::kOff;
  const char* failed = nullptr;
  if (int err = MovePageRange(source.data(), target.data(), source.length(), &dontunmap, -1, &failed)) {
    if (err == EEXIST) {
      // The pages moved, but something else took the source's old address meanwhile: it is no longer ours.
      DetachBuffer();
      mapping_->Disown();
      mapping_.reset();
    }
    ThrowErrno(env, err, failed, "moving " + std::to_string(source.length()) + " bytes of pages");
  }
  // The source's contents are gone: its old views must not pretend otherwise.
  DetachBuffer();
  return env.Undefined();
}

Napi::Value Region::Remap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Mapping& old = OpenMapping(env, "remap");
  // Reserve a fresh range first: mremap without FIXED would leave same-sized pages where they are.
  size_t alignment = huge_ ? kHugePageSize : PageSize();
  void* fresh = MapAnonymousAligned(old.length(), alignment, PROT_NONE, MAP_NORESERVE);
  if (!fresh) ThrowErrno(env, errno, "mmap", "could not reserve a destination for remap");
  if (mremap(old.data(), old.length(), old.length(), MREMAP_MAYMOVE | MREMAP_FIXED, fresh) == MAP_FAILED) {
    int err = errno;
    munmap(fresh, old.length());
    ThrowErrno(env, err, "mremap", "moving the region to a fresh address");
  }
  DetachBuffer();
  old.Disown();  // the kernel unmapped the old range as part of the move
  mapping_ = std::make_shared<Mapping>(env, fresh, length_);
  return Address(info);
}

Napi::Value Region::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!mapping_) return env.Undefined();
  if (lent_) ThrowState(env, "ERR_PAGEFLIP_BUSY", "cannot close: the region is lent to a send in progress");
  DetachBuffer();
  int err = mapping_->Unmap();
  mapping_.reset();
  if (err) ThrowErrno(env, err, "munmap");
  return env.Undefined();
}

}  // namespace pageflip
