#include "region.h"

#include <sys/mman.h>

#include <cerrno>

#include "addon_data.h"
#include "args.h"
#include "errors.h"
#include "external_buffer.h"
#include "vocabulary.h"

namespace pageflip {

Mapping::Mapping(napi_env env, PageRange range) : env_(env), range_(std::move(range)), accounted_(range_.length()) {
  Napi::MemoryManagement::AdjustExternalMemory(Napi::BasicEnv(env_), static_cast<int64_t>(accounted_));
}

Mapping::~Mapping() { Unmap(); }

int Mapping::Unmap() {
  int err = range_.Unmap();
  Unaccount();
  return err;
}

void Mapping::Disown() {
  range_.Disown();
  Unaccount();
}

void Mapping::Unaccount() {
  if (accounted_) Napi::MemoryManagement::AdjustExternalMemory(Napi::BasicEnv(env_), -static_cast<int64_t>(accounted_));
  accounted_ = 0;
}

namespace {

constexpr size_t kHugePageSize = kPmdBytes;  // a transparent huge page is what one page table maps

// Marks wrappers made by the Region constructor: an unwrapped one was closed, not forged.
constexpr napi_type_tag kRegionTag = {0x70616765666c6970ull, 0x726567696f6e0001ull};

}  // namespace

// Keeps the pages mapped for as long as V8 holds the ArrayBuffer (or one it was transferred to).
struct MappingOwner {
  MappingPtr mapping;
};

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

  PageRange range;
  if (huge_) {
    range = MapAnonymousAligned(length_, kHugePageSize, PROT_READ | PROT_WRITE, MAP_NORESERVE);
    if (!range) ThrowErrno(env, errno, "mmap", "could not reserve " + std::to_string(length_) + " bytes");
    // Ask for transparent huge pages; whether the kernel gave them is visible in smaps.
    madvise(range.data(), length_, MADV_HUGEPAGE);
  } else {
    void* data = mmap(nullptr, length_, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | (populate ? MAP_POPULATE : 0), -1, 0);
    if (data == MAP_FAILED) ThrowErrno(env, errno, "mmap", "could not map " + std::to_string(length_) + " bytes");
    range = PageRange(data, length_);
  }
  if (huge_ && populate) {
    // Pre-fault after the huge-page advice so the faults can be served with huge pages.
    if (madvise(range.data(), length_, MADV_POPULATE_WRITE) != 0) {
      int err = errno;
      // EINVAL: a kernel before 5.14 does not know the advice; touch the pages instead. Any other
      // error (ENOMEM, EFAULT, EHWPOISON...) is the populate failing, which touching would turn
      // into a SIGBUS or an OOM kill: report it (the mapping is unmapped on the way out).
      if (err != EINVAL) ThrowErrno(env, err, "madvise", "MADV_POPULATE_WRITE (populate) of " + std::to_string(length_) + " bytes");
      volatile uint8_t* bytes = range.data();
      for (size_t i = 0; i < length_; i += PageSize()) bytes[i] = 0;
    }
  }
  mapping_ = std::make_shared<Mapping>(env, std::move(range));
  NAPI_THROW_IF_FAILED_VOID(env, napi_type_tag_object(env, Value(), &kRegionTag));
}

Region* Region::Unwrap(Napi::Object wrapper) {
  Napi::Env env = wrapper.Env();
  void* wrapped = nullptr;
  if (napi_unwrap(env, wrapper, &wrapped) == napi_ok && wrapped != nullptr) return static_cast<Region*>(wrapped);
  bool tagged = false;
  if (napi_check_object_type_tag(env, wrapper, &kRegionTag, &tagged) == napi_ok && tagged) return Closed(env);
  ThrowTypeError(env, "not a PageRegion");
}

Region* Region::Closed(Napi::Env env) {
  AddonData& data = AddonData::Of(env);
  if (data.closed_region.IsEmpty()) {
    Napi::Object object = data.region_constructor.New({Napi::Number::New(env, double(PageSize()))});
    Region* region = ObjectWrap<Region>::Unwrap(object);
    region->Release();
    region->length_ = 0;
    region->shared_closed_ = true;
    data.closed_region = Napi::Persistent(object);
  }
  return ObjectWrap<Region>::Unwrap(data.closed_region.Value());
}

Region* Region::FromValue(Napi::Env env, Napi::Value value, const char* what) {
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(AddonData::Of(env).region_constructor.Value()))
    ThrowTypeError(env, std::string(what) + " must be a PageRegion");
  try {
    return Unwrap(value.As<Napi::Object>());
  } catch (const Napi::Error&) {
    ThrowTypeError(env, std::string(what) + " must be a PageRegion");
  }
}

Mapping& Region::OpenMapping(Napi::Env env, const char* operation) {
  if (!mapping_) ThrowState(env, "ERR_PAGEFLIP_CLOSED", std::string("cannot ") + operation + ": the region is closed");
  if (lent_)
    ThrowState(env, "ERR_PAGEFLIP_BUSY", std::string("cannot ") + operation + ": the region is lent to a send in progress");
  return *mapping_;
}

Mapping& Region::PrivateMapping(Napi::Env env, const char* operation) {
  Mapping& mapping = OpenMapping(env, operation);
  if (Escaped())
    ThrowState(env, "ERR_PAGEFLIP_TRANSFERRED",
               std::string("cannot ") + operation +
                   ": a view of the region was transferred (ArrayBuffer.prototype.transfer), so its pages "
                   "may be seen from a buffer pageflip does not track; they stay "
                   "mapped until that buffer is collected. close() the region and allocate a new one");
  return mapping;
}

bool Region::Escaped() {
  if (!mapping_->escaped && !buffer_.IsEmpty() && buffer_.Value().IsDetached()) mapping_->escaped = true;
  return mapping_->escaped;
}

MappingPtr Region::Lend(Napi::Env env) {
  PrivateMapping(env, "send");
  DetachBuffer();
  lent_ = true;
  return mapping_;
}

void Region::Return(bool consumed) {
  lent_ = false;
  // Gifted pages: our reference only goes, the kernel keeps them until sent.
  if (consumed && mapping_) Release();
}

int Region::Release() {
  // Our own view goes first; if someone else detached it, the pages may live on in their buffer.
  bool escaped = Escaped();
  MappingOwner* owner = buffer_owner_;
  DetachBuffer();
  if (escaped) {
    mapping_.reset();
    return 0;
  }
  // Sole holder: nothing can reach the pages now, so the finalizer (run later) needs none of it.
  if (owner) owner->mapping.reset();
  int err = mapping_->Unmap();
  mapping_.reset();
  return err;
}

void Region::DetachBuffer() {
  if (buffer_.IsEmpty()) return;
  Napi::ArrayBuffer buffer = buffer_.Value();
  if (!buffer.IsEmpty() && !buffer.IsDetached()) buffer.Detach();
  buffer_.Reset();
  buffer_owner_ = nullptr;
}

Napi::Value Region::Buffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Mapping& mapping = OpenMapping(env, "get a view");
  // After a transfer our buffer is detached: a new one shares the pages like the alias does.
  if (Escaped()) DetachBuffer();
  if (buffer_.IsEmpty()) {
    auto owner = std::make_unique<MappingOwner>(MappingOwner{mapping_});
    MappingOwner* holder = owner.get();
    Napi::ArrayBuffer buffer = NewExternalArrayBuffer(env, mapping.data(), mapping.length(), std::move(owner));
    buffer_ = Napi::Persistent(buffer);
    buffer_owner_ = holder;
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
  Mapping& source = PrivateMapping(env, "move pages");
  Region* dest = FromValue(env, info[0], "destination");
  if (dest == this) ThrowState(env, "ERR_PAGEFLIP_SAME_REGION", "cannot move a region onto itself");
  Mapping& target = dest->PrivateMapping(env, "move pages into the destination");
  if (target.length() != source.length())
    throw CodedRangeError(env, "ERR_PAGEFLIP_LENGTH_MISMATCH",
                          "regions differ in length (" + std::to_string(source.length()) + " vs " +
                              std::to_string(target.length()) + " bytes)");
  // The source stays mapped (empty, reads as zeros): with MREMAP_DONTUNMAP where the kernel has
  // it, else by mapping fresh anonymous pages back.
  DontUnmap dontunmap = MremapDontUnmapSupported() ? DontUnmap::kOn : DontUnmap::kOff;
  const char* failed = nullptr;
  if (int err = MovePageRange(source.data(), target.data(), source.length(), &dontunmap, -1, &failed)) {
    if (SourceAddressTaken(err, failed)) {
      // The whole region was the move's source: all of it is someone else's now.
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
  Mapping& old = PrivateMapping(env, "remap");
  // Reserve a fresh range first: mremap without FIXED would leave same-sized pages where they are.
  size_t alignment = huge_ ? kHugePageSize : PageSize();
  PageRange fresh = MapAnonymousAligned(old.length(), alignment, PROT_NONE, MAP_NORESERVE);
  if (!fresh) ThrowErrno(env, errno, "mmap", "could not reserve a destination for remap");
  if (mremap(old.data(), old.length(), old.length(), MREMAP_MAYMOVE | MREMAP_FIXED, fresh.data()) == MAP_FAILED)
    ThrowErrno(env, errno, "mremap", "moving the region to a fresh address");
  DetachBuffer();
  old.Disown();  // the kernel unmapped the old range as part of the move
  mapping_ = std::make_shared<Mapping>(env, std::move(fresh));
  return Address(info);
}

Napi::Value Region::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!mapping_) return env.Undefined();
  if (lent_) ThrowState(env, "ERR_PAGEFLIP_BUSY", "cannot close: the region is lent to a send in progress");
  int err = Release();
  if (!shared_closed_) {
    // Free the native side now (see Unwrap): a burst of regions closed without yielding to the
    // event loop would otherwise hold every one of them until it turns.
    napi_remove_wrap(env, Value(), nullptr);
    delete this;
  }
  if (err) ThrowErrno(env, err, "munmap");
  return env.Undefined();
}

}  // namespace pageflip
