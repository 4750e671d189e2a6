// Runs blocking work on a dedicated native thread (never the JS thread, never libuv's small
// threadpool) and settles a promise on the JS thread when it is done, after joining the thread.
// Also: pinning the current thread to a CPU (loops and calibration threads).
//
// Task must provide:  void Run();                                      // on the worker thread
//                     void Settle(Napi::Env, Napi::Promise::Deferred&); // on the JS thread
//                     void Abort();                                    // env teardown: stop soon
//                     void StartFailed(const SysError&);               // no thread: Settle reports it
#pragma once
#include <napi.h>
#include <pthread.h>
#include <sched.h>

#include <memory>
#include <system_error>
#include <thread>

#include "errors.h"

namespace pageflip {

// Pins the calling thread to one CPU. Returns 0 or the errno pthread_setaffinity_np gave; the
// caller says what was being pinned.
inline int PinCurrentThread(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

template <class Task>
class ThreadJob {
 public:
  static Napi::Promise Start(Napi::Env env, std::shared_ptr<Task> task) {
    auto* job = new ThreadJob(env, std::move(task));
    job->tsfn_ = Tsfn::New(env, "pageflip", 0, 1, job, &ThreadJob::Finalize);
    // Registered after the thread-safe function, so at teardown it runs first (hooks run in
    // reverse order): the worker is stopped and joined while the function is still valid.
    napi_add_env_cleanup_hook(env, &ThreadJob::Teardown, job);
    Napi::Promise promise = job->deferred_.Promise();
    try {
      job->thread_ = std::thread([job] {
        job->task_->Run();
        job->tsfn_.BlockingCall(static_cast<void*>(nullptr));
        job->tsfn_.Release();
      });
    } catch (const std::system_error& e) {
      // Settle still runs (on a later turn of the event loop), so the task rejects its promise
      // and gives back what it holds, as after a failed Run.
      job->task_->StartFailed(SysError{e.code().value(), "pthread_create", "could not start a worker thread"});
      job->tsfn_.NonBlockingCall(static_cast<void*>(nullptr));
      job->tsfn_.Release();
    }
    return promise;
  }

 private:
  static void CallJs(Napi::Env env, Napi::Function, ThreadJob* job, void*) {
    if (env == nullptr || !CanRunJs(env)) return;  // environment shutting down
    // Join before settling, so whoever awaits the promise finds the worker gone. The worker is
    // past Run() here and only releases the function, which never waits for this thread.
    if (job->thread_.joinable()) job->thread_.join();
    job->task_->Settle(env, job->deferred_);
  }
  using Tsfn = Napi::TypedThreadSafeFunction<ThreadJob, void, &ThreadJob::CallJs>;

  static void Teardown(void* arg) {
    auto* job = static_cast<ThreadJob*>(arg);
    job->torn_down_ = true;
    job->task_->Abort();
    if (job->thread_.joinable()) job->thread_.join();
  }

  // On the JS thread once the worker released the function (or at env teardown).
  static void Finalize(Napi::Env env, void*, ThreadJob* job) {
    if (job->thread_.joinable()) job->thread_.join();
    if (!job->torn_down_) napi_remove_env_cleanup_hook(env, &ThreadJob::Teardown, job);
    delete job;
  }

  ThreadJob(Napi::Env env, std::shared_ptr<Task> task) : deferred_(Napi::Promise::Deferred::New(env)), task_(std::move(task)) {}

  Napi::Promise::Deferred deferred_;
  std::shared_ptr<Task> task_;
  Tsfn tsfn_;
  std::thread thread_;
  bool torn_down_ = false;
};

}  // namespace pageflip
