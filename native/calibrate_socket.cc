// The socket-side calibration terms: recv() copying to user space, TCP_ZEROCOPY_RECEIVE mapping
// pages and madvise(DONTNEED) dropping them, page faults and page reads. Each cell fills a
// loopback connection's receive queue from the same thread (not timed) and then times only the
// receive calls, so the figure is what a receiving thread pays per call, not the sender's share.
#include "calibrate_socket.h"

#include <arpa/inet.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <iterator>
#include <system_error>
#include <thread>

#include "args.h"
#include "fd.h"
#include "mapping.h"
#include "thread_task.h"
#include "zerocopy.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif

namespace pageflip::calibration {

namespace {

constexpr int kSocketBuffer = 4 * static_cast<int>(kMiB);  // the kernel doubles it; rmem_max may cap it
constexpr size_t kTimestampBytes = 12;                      // TCP timestamps option, on by default

struct Pair {
  UniqueFd client, server;
  size_t mss = 0;  // payload bytes per segment, as the client sees it
};

SysError Fail(const char* call, const std::string& what) { return SysError{errno, call, what}; }

// A connected TCP pair on 127.0.0.1. mss > 0 asks for that payload per segment (TCP_MAXSEG on
// the client, which counts the timestamps option as payload); zerocopy enables SO_ZEROCOPY.
SysError Connect(size_t mss, bool zerocopy, Pair* pair) {
  UniqueFd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listener) return Fail("socket", "a calibration listener");
  int buffer = kSocketBuffer;
  setsockopt(listener.get(), SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);  // inherited by the accepted socket
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (bind(listener.get(), reinterpret_cast<sockaddr*>(&address), length) != 0 || listen(listener.get(), 1) != 0 ||
      getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0)
    return Fail("bind", "a calibration listener on 127.0.0.1");
  pair->client.reset(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!pair->client) return Fail("socket", "a calibration client");
  setsockopt(pair->client.get(), SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
  if (mss) {
    int maxseg = static_cast<int>(mss + kTimestampBytes);
    if (setsockopt(pair->client.get(), IPPROTO_TCP, TCP_MAXSEG, &maxseg, sizeof maxseg) != 0)
      return Fail("setsockopt", "TCP_MAXSEG on the calibration client");
  }
  int one = 1;
  if (zerocopy && setsockopt(pair->client.get(), SOL_SOCKET, SO_ZEROCOPY, &one, sizeof one) != 0)
    return Fail("setsockopt", "SO_ZEROCOPY on the calibration client");
  setsockopt(pair->client.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(pair->client.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    return Fail("connect", "the calibration pair on 127.0.0.1");
  pair->server.reset(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!pair->server) return Fail("accept", "the calibration pair on 127.0.0.1");
  int seg = 0;
  socklen_t seg_length = sizeof seg;
  getsockopt(pair->client.get(), IPPROTO_TCP, TCP_MAXSEG, &seg, &seg_length);
  pair->mss = static_cast<size_t>(seg);
  return {};
}

SysError Drain(const Pair& pair, uint8_t* sink, size_t sink_bytes);

// Drains MSG_ZEROCOPY completions so their notifications never exhaust the socket's option memory.
void DrainCompletions(int fd) {
  char control[128];
  for (;;) {
    msghdr msg{};
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    if (recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) return;
  }
}

// Queues up to `bytes` (whole chunks) without blocking, then waits until the receiver holds
// what was sent (or it stops arriving); *queued is what the receive queue holds, so every timed call
// finds its whole chunk there and never waits for the sender.
SysError Fill(const Pair& pair, const uint8_t* source, size_t chunk, size_t bytes, bool zerocopy, size_t* queued) {
  size_t sent = 0;
  *queued = 0;
  // MSG_ZEROCOPY refuses sends (ENOBUFS, EAGAIN) while its notifications or pinned pages are
  // exhausted, until completions come back: retry for up to 1 s while less than a chunk went out.
  uint64_t give_up = NowNs() + 1000000000ULL;
  while (sent < bytes) {
    ssize_t n = send(pair.client.get(), source, chunk, MSG_DONTWAIT | MSG_NOSIGNAL | (zerocopy ? MSG_ZEROCOPY : 0));
    int err = n < 0 ? errno : 0;
    if (zerocopy) DrainCompletions(pair.client.get());
    if (n < 0) {
      if (err != EAGAIN && err != ENOBUFS) return SysError{err, "send", "filling the calibration connection"};
      if (sent >= chunk || NowNs() > give_up) break;
      usleep(50);
      continue;
    }
    sent += static_cast<size_t>(n);
    if (static_cast<size_t>(n) < chunk && sent >= chunk) break;  // the send buffer is full
  }
  // Loopback delivers in softirq, mostly before send() returns; what the windows held back
  // arrives once ACKs flow. Stop when all arrived, or at least a chunk did and nothing more came
  // for 1 ms; a busy machine may stall delivery longer, so less than a chunk waits up to 2 s.
  uint64_t started = NowNs(), last_growth = started;
  for (;;) {
    int inq = 0;
    if (ioctl(pair.server.get(), FIONREAD, &inq) != 0) return Fail("ioctl", "FIONREAD on the calibration connection");
    uint64_t now = NowNs();
    if (static_cast<size_t>(inq) > *queued) last_growth = now;
    *queued = static_cast<size_t>(inq);
    if (*queued >= sent || (*queued >= chunk && now - last_growth > 1000000ULL) || now - started > 2000000000ULL) break;
    usleep(20);
  }
  if (zerocopy) DrainCompletions(pair.client.get());
  return {};
}

// Moves `bytes` through the connection in big gulps, so its congestion and receive windows have
// grown before anything is timed (a fresh connection can queue only ~10 segments).
SysError WarmUp(const Pair& pair, Scratch& source, size_t chunk, bool zerocopy) {
  for (int round = 0; round < 64; round++) {
    size_t queued = 0;
    if (SysError e = Fill(pair, source.data(), chunk, 16 * chunk, zerocopy, &queued)) return e;
    if (SysError e = Drain(pair, source.data(), chunk)) return e;
  }
  return {};
}

// Reads and discards whatever is still queued (not timed).
SysError Drain(const Pair& pair, uint8_t* sink, size_t sink_bytes) {
  for (;;) {
    ssize_t n = recv(pair.server.get(), sink, sink_bytes, MSG_DONTWAIT);
    if (n > 0) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return {};
    return Fail("recv", "draining the calibration connection");
  }
}

// recv() of `chunk` bytes per call into a destination that is cached (hot: one buffer) or evicted
// (cold: a pool of buffers, each flushed from the caches before the timed calls).
SysError MeasureRecvCopy(const Plan& plan, const Pair& pair, size_t chunk, bool cold, Scratch& source, Scratch& pool,
                         size_t pool_bytes, Figure* figure) {
  const uint64_t slots = pool_bytes / chunk;
  uint64_t cursor = 0;
  auto destination = [&](uint64_t i) { return pool.data() + (cold ? (cursor + i) % slots : 0) * chunk; };
  std::vector<double> per_call;
  auto batch = [&](uint64_t k, Sample* s) -> SysError {
    size_t queued = 0;
    if (SysError e = Fill(pair, source.data(), chunk, k * chunk, false, &queued)) return e;
    uint64_t calls = queued / chunk;
    if (calls == 0) return SysError{ENOBUFS, "send", "the loopback receive queue cannot hold one " + std::to_string(chunk >> 10) + " KiB chunk"};
    if (cold) {
      for (uint64_t i = 0; i < calls; i++) FlushRange(destination(i), chunk);
      FlushFence();
    }
    s->ns = 0;
    s->ops = 0;
    for (uint64_t i = 0; i < calls; i++) {
      uint64_t start = NowNs();
      ssize_t n = recv(pair.server.get(), destination(i), chunk, MSG_WAITALL);
      uint64_t took = NowNs() - start;
      s->ns += took;
      per_call.push_back(static_cast<double>(took));
      if (n != static_cast<ssize_t>(chunk)) return Fail("recv", "receiving a queued calibration chunk");
      KeepMemory(destination(i));
      s->ops++;
    }
    cursor += calls;
    return Drain(pair, pool.data(), chunk);
  };
  if (SysError e = MeasureCell(plan, cold ? slots : uint64_t{1} << 20, false, batch, figure)) return e;
  figure->ns_per_op = Median(std::move(per_call));
  return {};
}

// TCP_ZEROCOPY_RECEIVE of `chunk` bytes into a socket mapping, then madvise(DONTNEED) of them, as
// a zero-copy receiver does per chunk; the two are timed apart. *unmappable says why not, when
// the kernel would not map whole chunks here.
// Calls take turns: the first of three maps and zaps (the notouch figures), the second also reads
// every word of the mapped pages before the zap (touch = median(read + zap) − median zap of the
// first kind), the third moves the pages as flip does and drops them there (flip's move + release).
SysError MeasureZerocopy(const Plan& plan, const Pair& pair, size_t chunk, Scratch& source, Figure* map, Figure* zap,
                         Figure* touch, Figure* flip, std::string* unmappable) {
  void* area = mmap(nullptr, chunk, PROT_READ, MAP_SHARED, pair.server.get(), 0);
  if (area == MAP_FAILED) return Fail("mmap", "the socket mapping for TCP_ZEROCOPY_RECEIVE");
  auto unmap = [&] { munmap(area, chunk); };
  // flip's destination: after the first move it holds a copy of the socket VMA, as a receiver's does.
  Scratch dest;
  if (SysError e = dest.Map(chunk, PageSize(), PROT_READ | PROT_WRITE, "flip's destination")) {
    unmap();
    return e;
  }
  DontUnmap dontunmap = DontUnmap::kFallback;
  std::vector<double> map_ns, zap_ns, touched_ns, flip_ns;
  volatile uint64_t sink = 0;
  auto batch = [&](uint64_t k, Sample* s) -> SysError {
    size_t queued = 0;
    if (SysError e = Fill(pair, source.data(), chunk, k * chunk, true, &queued)) return e;
    uint64_t calls = queued / chunk;
    s->ns = 0;
    s->ops = 0;
    for (uint64_t i = 0; i < calls; i++) {
      ZerocopyReceive zc{};
      zc.address = reinterpret_cast<uintptr_t>(area);
      zc.length = static_cast<uint32_t>(chunk);
      socklen_t optlen = sizeof zc;
      uint64_t start = NowNs();
      int rc = getsockopt(pair.server.get(), IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE, &zc, &optlen);
      uint64_t mapped_at = NowNs();
      if (rc != 0) return Fail("getsockopt", "TCP_ZEROCOPY_RECEIVE of a queued calibration chunk");
      if (zc.length != chunk) {
        *unmappable = "the kernel mapped " + std::to_string(zc.length) + " of " + std::to_string(chunk) +
                      " queued bytes (recv_skip_hint " + std::to_string(zc.recv_skip_hint) + ", segment payload " +
                      std::to_string(pair.mss) + " bytes)";
        madvise(area, chunk, MADV_DONTNEED);
        return {};
      }
      // Every third call is flip's: the mapped pages moved onto the destination the way a flip
      // receiver moves them (MovePageRange, replacing what the last move left there), then
      // dropped there as its release does. The others zap in place, half of them after a touch.
      const size_t kind = map_ns.size() % 3;
      if (kind == 2) {
        const char* failed = nullptr;
        int err = MovePageRange(area, dest.data(), chunk, &dontunmap, pair.server.get(), &failed);
        if (err != 0) return SysError{err, failed, "moving mapped calibration pages as flip does"};
        if (madvise(dest.data(), chunk, MADV_DONTNEED) != 0) return Fail("madvise", "dropping the pages a calibration flip moved");
        uint64_t end = NowNs();
        s->ns += mapped_at - start;
        s->ops++;
        map_ns.push_back(static_cast<double>(mapped_at - start));
        flip_ns.push_back(static_cast<double>(end - mapped_at));
        continue;
      }
      const bool touched = kind == 1;
      if (touched) {
        const uint64_t* words = static_cast<const uint64_t*>(area);
        uint64_t sum = 0;
        for (size_t w = 0; w < chunk / 8; w++) sum += words[w];
        sink = sink + sum;
      }
      if (madvise(area, chunk, MADV_DONTNEED) != 0) return Fail("madvise", "dropping the pages TCP_ZEROCOPY_RECEIVE mapped");
      uint64_t end = NowNs();
      s->ns += mapped_at - start;
      s->ops++;
      map_ns.push_back(static_cast<double>(mapped_at - start));
      (touched ? touched_ns : zap_ns).push_back(static_cast<double>(end - mapped_at));
    }
    return Drain(pair, source.data(), chunk);
  };
  auto checked = [&](uint64_t k, Sample* s) -> SysError {
    SysError err = batch(k, s);
    if (!err && !unmappable->empty()) return SysError{EINVAL, "getsockopt", *unmappable};
    if (!err && s->ops == 0) return SysError{ENOBUFS, "send", "the loopback receive queue cannot hold one chunk"};
    return err;
  };
  SysError e = MeasureCell(plan, uint64_t{1} << 20, true, checked, map);
  // A short plan on a slow machine (one call to size, one per trial) may not reach every kind:
  // more calls until each has one, outside the cell's own figure (their medians still count).
  auto some_kind_missing = [&] { return zap_ns.empty() || touched_ns.empty() || flip_ns.empty(); };
  for (int extra = 0; !e && some_kind_missing() && extra < 16; extra++) {
    Sample ignored;
    e = checked(3, &ignored);
  }
  unmap();
  if (e && !unmappable->empty()) return {};
  if (e) return e;
  // Medians over single calls (warm-up included): one preemption on a busy machine moves them little.
  if (some_kind_missing())
    return SysError{ENOBUFS, "getsockopt", "too few zero-copy calls to time touch and flip's move apart"};
  map->ns_per_op = Median(map_ns);
  zap->ops = zap_ns.size();
  zap->ns_per_op = Median(std::move(zap_ns));
  touch->ops = touched_ns.size();
  touch->ns_per_op = std::max(0.0, Median(std::move(touched_ns)) - zap->ns_per_op);
  flip->ops = flip_ns.size();
  flip->ns_per_op = Median(std::move(flip_ns));
  return {};
}

// First write to each of a pool's pages after madvise(DONTNEED) dropped them: one anonymous page
// fault (allocate, zero, map) per page.
SysError MeasureFault(const Plan& plan, Figure* figure) {
  constexpr size_t kPages = 512;
  const size_t page = PageSize();
  Scratch pool;
  if (SysError e = pool.Map(kPages * page, page, PROT_READ | PROT_WRITE, "the page-fault pool")) return e;
  auto batch = [&](uint64_t k, Sample* s) -> SysError {
    if (madvise(pool.data(), kPages * page, MADV_DONTNEED) != 0) return Fail("madvise", "emptying the page-fault pool");
    uint64_t start = NowNs();
    for (uint64_t i = 0; i < k; i++) pool.data()[i * page] = kFill;
    KeepMemory(pool.data());
    s->ns = NowNs() - start;
    s->ops = k;
    return {};
  };
  return MeasureCell(plan, kPages, false, batch, figure);
}

// Reading every 8-byte word of a page: what 'touch' adds per page, from the cache (hot) or after
// the page was evicted (cold).
SysError MeasureRead(const Plan& plan, bool cold, Figure* figure) {
  constexpr size_t kPages = 4096;  // 16 MiB with 4 KiB pages
  const size_t page = PageSize();
  Scratch pool;
  if (SysError e = pool.MapFilled(kPages * page, "the page-read pool")) return e;
  uint64_t cursor = 0;
  volatile uint64_t sink = 0;
  auto batch = [&](uint64_t k, Sample* s) -> SysError {
    auto at = [&](uint64_t i) { return pool.data() + (cold ? (cursor + i) % kPages : 0) * page; };
    if (cold) {
      for (uint64_t i = 0; i < k; i++) FlushRange(at(i), page);
      FlushFence();
    }
    uint64_t sum = 0;
    uint64_t start = NowNs();
    for (uint64_t i = 0; i < k; i++) {
      const uint64_t* words = reinterpret_cast<const uint64_t*>(at(i));
      for (size_t w = 0; w < page / 8; w++) sum += words[w];
      KeepMemory(words);
    }
    s->ns = NowNs() - start;
    s->ops = k;
    sink = sink + sum;
    cursor += k;
    return {};
  };
  return MeasureCell(plan, cold ? kPages : uint64_t{1} << 30, false, batch, figure);
}


bool WouldBlockErrno(int err) { return err == EAGAIN || err == EWOULDBLOCK; }

uint64_t ThreadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

// A real flow: a sender thread on `sender_cpu` (-1: not pinned) streams over a connection of
// `segment` payload bytes per packet while this thread receives `chunk` bytes per recv() for `duration_ns`; the figure is
// this thread's CPU time per 10^6 bytes. truncate = recv(MSG_TRUNC), which consumes without copying:
// what every receive mode pays for the packets, ACKs and wake-ups whatever it does with the bytes.
SysError MeasureFlow(int sender_cpu, bool truncate, bool zerocopy, size_t segment, size_t chunk, uint64_t duration_ns,
                     Scratch& source, Scratch& sink, double* us_per_mb) {
  Pair pair;
  if (SysError e = Connect(segment, zerocopy, &pair)) return e;
  // A sender that stalls must not hang the calibration: recv gives up after 2 s.
  timeval timeout{2, 0};
  if (setsockopt(pair.server.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) != 0)
    return Fail("setsockopt", "SO_RCVTIMEO on the calibration flow");
  // Wake once a whole chunk is queued, as the receive loops do (DefaultLowWater): a reader woken
  // for every few segments would pay many more wake-ups per MB than any receive mode does.
  int low_water = static_cast<int>(chunk);
  if (setsockopt(pair.server.get(), SOL_SOCKET, SO_RCVLOWAT, &low_water, sizeof low_water) != 0)
    return Fail("setsockopt", "SO_RCVLOWAT on the calibration flow");
  std::atomic<bool> stop{false};
  std::atomic<int> sender_error{0};
  std::thread sender;
  try {
    sender = std::thread([&] {
      if (sender_cpu >= 0 && PinCurrentThread(sender_cpu) != 0) sender_error.store(EINVAL);
      while (!stop.load(std::memory_order_relaxed)) {
        ssize_t n = send(pair.client.get(), source.data(), chunk, MSG_NOSIGNAL | (zerocopy ? MSG_ZEROCOPY : 0));
        int err = n < 0 ? errno : 0;
        if (zerocopy) DrainCompletions(pair.client.get());
        // MSG_ZEROCOPY runs out of notification memory or of pinned-page allowance (RLIMIT_MEMLOCK
        // for unprivileged users) until completions come back: wait a little and send again.
        if (err == ENOBUFS || err == EAGAIN) {
          usleep(50);
        } else if (err != 0 && err != EINTR) {
          sender_error.store(err);
          break;
        }
      }
      shutdown(pair.client.get(), SHUT_WR);
    });
  } catch (const std::system_error& e) {
    return SysError{e.code().value(), "pthread_create", "could not start the calibration sender thread"};
  }
  auto receive = [&](uint64_t for_ns, uint64_t* bytes) -> SysError {
    uint64_t end = NowNs() + for_ns;
    while (NowNs() < end) {
      ssize_t n = recv(pair.server.get(), truncate ? nullptr : sink.data(), chunk, truncate ? MSG_TRUNC : 0);
      if (n <= 0)
        return SysError{n == 0 ? EPIPE : errno, "recv", n < 0 && WouldBlockErrno(errno) ? "the calibration flow stalled for 2 s" : "receiving the calibration flow"};
      *bytes += static_cast<uint64_t>(n);
    }
    return {};
  };
  uint64_t bytes = 0;
  SysError e = receive(duration_ns / 4, &bytes);  // warm-up: windows open, caches settle
  uint64_t cpu = ThreadCpuNs();
  bytes = 0;
  if (!e) e = receive(duration_ns, &bytes);
  cpu = ThreadCpuNs() - cpu;
  stop.store(true);
  // Unblock a sender stuck in send(): read until its FIN (or an error) arrives.
  while (recv(pair.server.get(), sink.data(), chunk, MSG_TRUNC) > 0) {
  }
  sender.join();
  // The sender's error explains the receiver's (its FIN came early).
  if (int err = sender_error.load()) return SysError{err, "send", "the calibration flow's sender"};
  if (e) return e;
  *us_per_mb = static_cast<double>(cpu) / 1000.0 / (static_cast<double>(bytes) / 1e6);
  return {};
}
}  // namespace

SysError MeasureSocketTerms(const Plan& plan, int sender_cpu, bool zerocopy_available, const std::string& zerocopy_missing,
                            SocketTerms* out) {
  const size_t page = PageSize();
  const size_t largest = kSocketPageCounts[std::size(kSocketPageCounts) - 1] * page;
  Scratch source, pool;
  if (SysError e = source.MapFilled(largest, "the calibration send buffer")) return e;
  constexpr size_t kPoolBytes = 64 * kMiB;
  if (SysError e = pool.MapFilled(kPoolBytes, "the calibration receive buffers")) return e;
  {
    // One page of payload per segment, as at MTU 4148: every term below sees the same segments.
    Pair pair;
    if (SysError e = Connect(page, false, &pair)) return e;
    if (SysError e = WarmUp(pair, source, largest, false)) return e;
    for (size_t pages : kSocketPageCounts) {
      ChunkFigure hot{pages * page, {}}, cold{pages * page, {}};
      if (SysError e = MeasureRecvCopy(plan, pair, hot.bytes, false, source, pool, kPoolBytes, &hot.figure)) return e;
      if (SysError e = MeasureRecvCopy(plan, pair, cold.bytes, true, source, pool, kPoolBytes, &cold.figure)) return e;
      out->recv_hot.push_back(hot);
      out->recv_cold.push_back(cold);
    }
  }
  if (!zerocopy_available) {
    out->zerocopy_reason = zerocopy_missing;
  } else {
    Pair pair;
    if (SysError e = Connect(page, true, &pair)) return e;
    if (pair.mss != page) {
      out->zerocopy_reason = "the loopback connection's segments carry " + std::to_string(pair.mss) +
                             " bytes, not whole pages (TCP timestamps off?), so nothing could be mapped";
    } else if (SysError e = WarmUp(pair, source, largest, true)) {
      return e;
    } else {
      for (size_t pages : kSocketPageCounts) {
        ChunkFigure map{pages * page, {}}, zap{pages * page, {}}, touch{pages * page, {}}, flip{pages * page, {}};
        std::string unmappable;
        if (SysError e = MeasureZerocopy(plan, pair, map.bytes, source, &map.figure, &zap.figure, &touch.figure, &flip.figure, &unmappable))
          return e;
        if (!unmappable.empty()) {
          out->zerocopy.clear();
          out->zap.clear();
          out->zerocopy_touch.clear();
          out->flip_move.clear();
          out->zerocopy_reason = unmappable;
          break;
        }
        out->zerocopy.push_back(map);
        out->zap.push_back(zap);
        out->zerocopy_touch.push_back(touch);
        out->flip_move.push_back(flip);
      }
      out->zerocopy_measured = !out->zerocopy.empty();
    }
  }
  // Flows: median of 3 runs each, at 256 KiB chunks (compare's default): truncating and copying at
  // one page per segment, and truncating at two (what a segment costs, apart from its bytes).
  out->flow_chunk = kFlowChunk;
  out->flow_sender_cpu = sender_cpu;
  out->flow_zerocopy_sender = zerocopy_available;
  // At least 100 ms each: shorter flows on a shared machine scatter more than the terms differ.
  uint64_t flow_ns = std::max<uint64_t>(plan.trial_ns * plan.trials * 5, 100000000ULL);
  struct FlowCase {
    bool truncate;
    size_t segment;
    double* out;
  };
  const FlowCase cases[] = {{true, page, &out->flow_truncate_us_per_mb},
                            {false, page, &out->flow_copy_us_per_mb},
                            {true, 2 * page, &out->flow_truncate_two_pages_us_per_mb}};
  for (const FlowCase& c : cases) {
    std::vector<double> runs;
    for (int run = 0; run < 3; run++) {
      if (plan.stop->load()) return SysError{ECANCELED, "calibrate", "the calibration was stopped because its environment is shutting down"};
      double us = 0;
      if (SysError e = MeasureFlow(sender_cpu, c.truncate, zerocopy_available, c.segment, kFlowChunk, flow_ns, source, pool, &us))
        return e;
      runs.push_back(us);
    }
    *c.out = Median(runs);
  }
  if (SysError e = MeasureFault(plan, &out->fault)) return e;
  if (SysError e = MeasureRead(plan, false, &out->read_hot)) return e;
  return MeasureRead(plan, true, &out->read_cold);
}

}  // namespace pageflip::calibration

namespace pageflip {

namespace {

// The hypervisor's cpuid signature (leaf 0x40000000), or "" on bare metal / other architectures.
std::string HypervisorVendor(bool* present) {
  *present = false;
#if defined(__x86_64__) || defined(__i386__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & (1u << 31))) return "";
  *present = true;
  __cpuid(0x40000000, eax, ebx, ecx, edx);
  char vendor[13] = {};
  std::memcpy(vendor, &ebx, 4);
  std::memcpy(vendor + 4, &ecx, 4);
  std::memcpy(vendor + 8, &edx, 4);
  std::string text(vendor);
  text.erase(std::remove_if(text.begin(), text.end(), [](char c) { return c < 32 || c > 126; }), text.end());
  return text;
#else
  return "";
#endif
}

}  // namespace

Napi::Value Virtualization(const Napi::CallbackInfo& info) {
  using namespace calibration;
  Napi::Env env = info.Env();
  bool present = false;
  std::string vendor = HypervisorVendor(&present);
  // Median of 5 rounds of 64 faults, and of 5 rounds of 256 getppid() calls: a few ms in all.
  const size_t page = PageSize();
  constexpr size_t kPages = 64;
  Scratch pool;
  if (SysError e = pool.Map(kPages * page, page, PROT_READ | PROT_WRITE, "the page-fault probe")) throw ErrnoError(env, e);
  std::vector<double> fault_us, syscall_us;
  for (int round = 0; round < 5; round++) {
    madvise(pool.data(), kPages * page, MADV_DONTNEED);
    uint64_t start = NowNs();
    for (size_t i = 0; i < kPages; i++) pool.data()[i * page] = kFill;
    KeepMemory(pool.data());
    fault_us.push_back(static_cast<double>(NowNs() - start) / 1000.0 / kPages);
    start = NowNs();
    for (int i = 0; i < 256; i++) (void)getppid();
    syscall_us.push_back(static_cast<double>(NowNs() - start) / 1000.0 / 256);
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("hypervisor", present);
  result.Set("hypervisorVendor", present && !vendor.empty() ? Napi::Value(Napi::String::New(env, vendor)) : env.Null());
  result.Set("faultUs", Median(fault_us));
  result.Set("syscallUs", Median(syscall_us));
  result.Set("method",
             "cpuid leaf 1 ECX bit 31 (hypervisor present) and leaf 0x40000000 (its signature); faultUs: median of 5 "
             "rounds of first writes to 64 anonymous pages just dropped with madvise(DONTNEED); syscallUs: median of 5 "
             "rounds of 256 getppid() calls");
  return result;
}

}  // namespace pageflip
