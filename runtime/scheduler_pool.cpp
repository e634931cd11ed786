#include "runtime/scheduler_pool.hpp"

#include <pthread.h>
#include <sched.h>

#include <exception>
#include <mutex>

namespace echod::runtime {

// What the pool and a thread share: the thread's scheduler while it runs, and posts that arrived
// before it existed. The lock is taken per post, never on the data path.
struct scheduler_pool::slot {
  std::mutex lock;
  scheduler* sched = nullptr;
  bool finished = false;
  std::vector<std::function<void(scheduler&)>> early;
  std::string error;
};

namespace {

void name_thread(const std::string& base, std::size_t index) {
  std::string name = base + "-" + std::to_string(index);
  if (name.size() > 15) name.resize(15);  // the kernel's limit (TASK_COMM_LEN - 1)
  pthread_setname_np(pthread_self(), name.c_str());
}

void pin_thread(const std::vector<int>& cpus, std::size_t index) {
  if (cpus.empty()) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpus[index % cpus.size()], &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

}  // namespace

scheduler_pool::scheduler_pool(options opts, poller_factory make_poller, thread_main main) {
  for (std::size_t i = 0; i < opts.threads; ++i) slots_.push_back(std::make_unique<slot>());
  try {
    start_threads(opts, make_poller, main);
  } catch (...) {
    // A thread that could not be created (EAGAIN: process or memory limits) must not leave the
    // ones already running joinable: destroying a joinable std::thread calls std::terminate.
    stop();
    join();
    throw;
  }
}

void scheduler_pool::start_threads(const options& opts, const poller_factory& make_poller,
                                   const thread_main& main) {
  for (std::size_t i = 0; i < opts.threads; ++i) {
    threads_.emplace_back([this, i, opts, make_poller, main] {
      slot& me = *slots_[i];
      name_thread(opts.thread_name, i);
      pin_thread(opts.cpus, i);
      try {
        scheduler sched(make_poller(i), opts.per_thread);
        main(sched, i);
        {
          std::lock_guard lock(me.lock);
          me.sched = &sched;
          for (auto& fn : me.early) sched.post([&sched, fn = std::move(fn)] { fn(sched); });
          me.early.clear();
        }
        sched.run();
        std::lock_guard lock(me.lock);
        me.sched = nullptr;
        me.finished = true;
      } catch (const std::exception& e) {
        std::lock_guard lock(me.lock);
        me.sched = nullptr;
        me.finished = true;
        me.error = e.what();
      }
    });
  }
}

scheduler_pool::~scheduler_pool() { join(); }

void scheduler_pool::post_all(const std::function<void(scheduler&)>& fn) {
  for (auto& s : slots_) {
    std::lock_guard lock(s->lock);
    if (s->sched != nullptr) {
      scheduler* sched = s->sched;
      sched->post([sched, fn] { fn(*sched); });
    } else if (!s->finished) {
      s->early.push_back(fn);
    }
  }
}

void scheduler_pool::join() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

std::vector<std::string> scheduler_pool::errors() const {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    std::lock_guard lock(slots_[i]->lock);
    if (!slots_[i]->error.empty()) {
      out.push_back("thread " + std::to_string(i) + ": " + slots_[i]->error);
    }
  }
  return out;
}

}  // namespace echod::runtime
