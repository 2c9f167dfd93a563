#include "xbarsweep/sweep/runner.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <thread>

#include "progress.hpp"
#include "stop_flag.hpp"
#include "wire.hpp"
#include "xbarsweep/config/sweep_plan.hpp"
#include "xbarsweep/error.hpp"
#include "xbarsweep/sweep/mpi.hpp"

namespace xbarsweep::sweep {
namespace {

using Clock = std::chrono::steady_clock;

double unix_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char buf[256] = {};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

// ---- summary broadcast ----------------------------------------------------------------------

std::string pack(const RunSummary& s) {
  wire::Writer w;
  for (auto v : {s.planned, s.skipped, s.computed, s.failed, s.done_total, s.failed_total, s.deferred}) {
    w.put<std::uint64_t>(v);
  }
  w.put<std::uint8_t>(s.interrupted ? 1 : 0);
  w.put<std::int32_t>(s.signal);
  w.put<double>(s.wall_s);
  w.put_bytes(s.error);
  return std::move(w.bytes());
}

RunSummary unpack(std::string_view bytes) {
  wire::Reader r(bytes);
  RunSummary s;
  for (auto* v :
       {&s.planned, &s.skipped, &s.computed, &s.failed, &s.done_total, &s.failed_total, &s.deferred}) {
    *v = r.get<std::uint64_t>();
  }
  s.interrupted = r.get<std::uint8_t>() != 0;
  s.signal = r.get<std::int32_t>();
  s.wall_s = r.get<double>();
  s.error = std::string(r.get_bytes());
  return s;
}

/// Broadcasts a string of any length from rank 0. Non-blocking broadcasts waited on politely:
/// a rank out of points waits here for rank 0's last one, and OpenMPI's blocking MPI_Bcast would
/// spin a core for all that time, halving the speed of that point on a 2-core laptop.
std::string broadcast(std::string bytes, MPI_Comm comm) {
  auto n = static_cast<std::uint64_t>(bytes.size());
  MPI_Request request;
  XBARSWEEP_MPI(MPI_Ibcast(&n, 1, MPI_UINT64_T, 0, comm, &request));
  wire::wait_politely(request);
  bytes.resize(n);
  XBARSWEEP_MPI(MPI_Ibcast(bytes.data(), static_cast<int>(n), MPI_BYTE, 0, comm, &request));
  wire::wait_politely(request);
  return bytes;
}

// ---- the coordinator (rank 0, its own thread) ------------------------------------------------

struct Pending {
  std::vector<std::uint64_t> order;  // plan indices still to compute, in dispatch order
  std::vector<double> cost;          // the kind's cost hint of each, in the same order
  std::uint64_t planned = 0;
  std::uint64_t known_done = 0;
  std::uint64_t known_failed = 0;
};

/// Walks this shard of the plan once: distinct ids, minus what the file already holds. Memory is
/// about 24 bytes per point on rank 0 only (a 10^7-point plan: ~240 MB), never the points.
Pending find_pending(const config::SweepPlan& plan, const kinds::Kind& kind, const Shard& shard,
                     const store::ResultsWriter& writer, bool retry_failed) {
  struct Entry {
    std::uint64_t hash;  // the point id, as the number its 16 hex digits spell
    std::uint64_t index;
    double cost;
  };
  std::vector<Entry> entries;
  entries.reserve(plan.size() / shard.count + 1);
  for (std::uint64_t i = shard.index; i < plan.size(); i += shard.count) {
    const config::Params params = plan.point(i);
    entries.push_back({std::stoull(config::point_id(params), nullptr, 16), i, kind.cost_hint(params)});
  }
  // The same parameters twice (random draws can repeat) are one point, computed once.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.hash != b.hash ? a.hash < b.hash : a.index < b.index;
  });
  entries.erase(std::unique(entries.begin(), entries.end(),
                            [](const Entry& a, const Entry& b) { return a.hash == b.hash; }),
                entries.end());
  Pending p;
  p.planned = entries.size();
  std::vector<Entry> todo;
  bool any_cost = false;
  for (const Entry& e : entries) {
    char id[17];
    std::snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>(e.hash));
    auto known = writer.known().find(id);
    if (known != writer.known().end()) {
      if (known->second == store::PointStatus::Done) {
        ++p.known_done;
        continue;
      }
      if (!retry_failed) {
        ++p.known_failed;
        continue;
      }
    }
    any_cost = any_cost || e.cost > 0;
    todo.push_back(e);
  }
  // Plan order; most expensive first where the kind gives a cost hint (ties keep plan order).
  std::sort(todo.begin(), todo.end(), [any_cost](const Entry& a, const Entry& b) {
    if (any_cost && a.cost != b.cost) return a.cost > b.cost;
    return a.index < b.index;
  });
  p.order.reserve(todo.size());
  p.cost.reserve(todo.size());
  for (const Entry& e : todo) {
    p.order.push_back(e.index);
    p.cost.push_back(e.cost);
  }
  return p;
}

/// Expected seconds of a point from the points completed so far: their seconds per unit of the
/// kind's cost hint times the point's hint, or their mean when the kind gives no hint.
class CostModel {
 public:
  void add(double seconds, double cost) {
    seconds_ += seconds;
    cost_ += cost > 0 ? cost : 0;
    ++points_;
  }
  /// < 0 when nothing is known yet.
  double expected(double cost) const {
    if (points_ == 0) return -1;
    if (cost > 0 && cost_ > 0) return cost * seconds_ / cost_;
    return seconds_ / static_cast<double>(points_);
  }
  std::uint64_t points() const { return points_; }

 private:
  double seconds_ = 0, cost_ = 0;
  std::uint64_t points_ = 0;
};

class Coordinator {
 public:
  Coordinator(Pending pending, store::ResultsWriter& writer, MPI_Comm comm, int ranks,
              double progress_interval_s, std::string cache_dir, const kinds::Kind& kind, double end_time)
      : pending_(std::move(pending)),
        writer_(writer),
        cache_dir_(std::move(cache_dir)),
        kind_(kind),
        end_time_(end_time),
        started_(unix_now()),
        comm_(comm),
        active_workers_(ranks),
        progress_(pending_.order.size(), progress_interval_s),
        assigned_(static_cast<std::size_t>(ranks), 0) {}

  void run() {
    auto pause = std::chrono::microseconds(5);
    while (active_workers_ > 0) {
      MPI_Status status;
      int found = 0;
      XBARSWEEP_MPI(MPI_Iprobe(MPI_ANY_SOURCE, wire::kRequestTag, comm_, &found, &status));
      if (found) {
        handle(wire::receive(status, wire::kRequestTag, comm_), status.MPI_SOURCE);
        pause = std::chrono::microseconds(5);
      } else {
        flush(false);
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::microseconds(2000));
      }
      if (g_stop_requested.load() && !stopping_) {
        stopping_ = true;
        progress_.note(
            "stop signal received: handing out no more points; points in flight save a checkpoint "
            "(those that can) and stop");
      }
      progress_.maybe_print(done_, failed_, in_flight_, stopping_);
    }
    flush(true);
    progress_.finish(done_, failed_);
  }

  std::uint64_t done() const { return done_; }
  std::uint64_t failed() const { return failed_; }
  std::uint64_t deferred() const { return deferred_; }
  /// Seeds the cost model with the points a results file already holds (a resumed sweep).
  void learn_from(const std::vector<store::PointRecord>& records) {
    for (const auto& r : records)
      if (r.status == store::PointStatus::Done && r.end_time > r.start_time)
        costs_.add(r.end_time - r.start_time, kind_.cost_hint(r.params));
  }
  bool stopping() const { return stopping_; }
  const std::string& error() const { return error_; }

 private:
  void handle(const std::string& bytes, int source) {
    wire::Reader in(bytes);
    const auto flags = in.get<std::uint8_t>();
    if (flags & wire::kFlagInterrupted) stopping_ = true;
    const auto count = in.get<std::uint32_t>();
    for (std::uint32_t k = 0; k < count; ++k) {
      store::PointRecord record = store::decode(in.get_bytes());
      --in_flight_;
      (record.status == store::PointStatus::Done ? done_ : failed_)++;
      const double seconds = record.end_time - record.start_time;
      if (end_time_ > 0 && record.status == store::PointStatus::Done)
        costs_.add(seconds, kind_.cost_hint(record.params));
      mean_point_s_ = mean_point_s_ < 0 ? seconds : 0.8 * mean_point_s_ + 0.2 * seconds;
      if (error_.empty()) {
        try {
          recorded_.push_back(record.id);
          writer_.append(std::move(record));
        } catch (const std::exception& e) {
          fail(e.what());
        }
      }
    }
    // Every request returns the worker's unfinished assignment count to zero.
    in_flight_ -= std::exchange(assigned_[source], 0) - count;
    wire::Writer out;
    std::uint64_t n = stopping_ || !error_.empty() ? 0 : chunk_size();
    std::vector<std::uint64_t> chunk;
    while (chunk.size() < n && next_ < pending_.order.size()) {
      if (fits_in_time(next_)) {
        chunk.push_back(pending_.order[next_]);
      } else {
        ++deferred_;
      }
      ++next_;
    }
    n = chunk.size();
    out.put<std::uint64_t>(n);
    for (const auto index : chunk) out.put<std::uint64_t>(index);
    assigned_[source] = n;
    in_flight_ += n;
    if (n == 0) --active_workers_;
    wire::send(out.bytes(), source, wire::kAssignTag, comm_);
  }

  /// Whether the point at dispatch position \p k can finish before the job's end, as far as the
  /// points completed so far tell. A point longer than a whole job starts anyway: it would fit
  /// no job, and it checkpoints when the end comes.
  bool fits_in_time(std::uint64_t k) {
    if (end_time_ <= 0) return true;
    const double expected = costs_.expected(pending_.cost[k]);
    if (expected < 0) return true;
    const double left = end_time_ - unix_now();
    if (expected <= left - kEndMargin_s) return true;
    if (expected > end_time_ - started_) {
      progress_.note("point " + std::to_string(pending_.order[k]) + " is expected to take " +
                     seconds(expected) +
                     ", longer than this whole job: starting it anyway (it checkpoints at the job's end)");
      return true;
    }
    if (deferred_ < kDeferralsLogged) {
      progress_.note("not starting plan point " + std::to_string(pending_.order[k]) + ": expected " +
                     seconds(expected) + " (from " + std::to_string(costs_.points()) +
                     " completed points), " + seconds(std::max(0.0, left)) +
                     " left before the job's end (which keeps " + seconds(kEndMargin_s) +
                     " to flush and exit)");
    } else if (deferred_ == kDeferralsLogged) {
      progress_.note("(further points not started for the same reason are counted, not listed)");
    }
    return false;
  }

  static std::string seconds(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, s < 10 ? "%.1f s" : "%.0f s", s);
    return buf;
  }

  /// Guided self-scheduling, capped so that a chunk takes about 0.2 s: fast points travel in
  /// batches, slow ones one at a time (so their results reach the file promptly).
  std::uint64_t chunk_size() const {
    const std::uint64_t left = pending_.order.size() - next_;
    if (left == 0) return 0;
    const int ranks = static_cast<int>(assigned_.size());
    std::uint64_t n = std::max<std::uint64_t>(1, left / (4 * static_cast<std::uint64_t>(ranks)));
    if (mean_point_s_ < 0) return 1;
    const double by_time = 0.2 / std::max(mean_point_s_, 1e-6);
    n = std::min<std::uint64_t>(n, static_cast<std::uint64_t>(std::max(1.0, by_time)));
    return std::min<std::uint64_t>({n, left, 4096});
  }

  void flush(bool final) {
    if (!error_.empty()) return;
    try {
      if (final) {
        writer_.sync();
        writer_.publish();
      } else {
        writer_.maybe_flush(std::chrono::milliseconds(200), std::chrono::milliseconds(1000));
      }
    } catch (const std::exception& e) {
      fail(e.what());
      return;
    }
    // A point's checkpoint goes once its record is durable, never before: killed in between,
    // the point would start over.
    if (writer_.synced()) {
      for (const auto& id : recorded_)
        kinds::PointCheckpoint(kinds::PointCheckpoint::path_for(cache_dir_, id), 0, nullptr).remove();
      recorded_.clear();
    }
  }

  void fail(const std::string& what) {
    error_ = what;
    stopping_ = true;
    progress_.note("error writing results, stopping: " + what);
  }

  static constexpr double kEndMargin_s = 10;  // to flush and exit before the end
  static constexpr std::uint64_t kDeferralsLogged = 20;

  Pending pending_;
  store::ResultsWriter& writer_;
  std::string cache_dir_;
  const kinds::Kind& kind_;
  double end_time_;
  double started_;
  CostModel costs_;
  std::uint64_t deferred_ = 0;
  std::vector<std::string> recorded_;  // ids appended whose checkpoints are still to remove
  MPI_Comm comm_;
  int active_workers_;
  Progress progress_;
  std::vector<std::uint64_t> assigned_;
  std::uint64_t next_ = 0;
  std::int64_t in_flight_ = 0;
  std::uint64_t done_ = 0, failed_ = 0;
  double mean_point_s_ = -1;
  bool stopping_ = false;
  std::string error_;
};

// ---- the worker (every rank, rank 0's main thread included) ----------------------------------

void work(const config::SweepPlan& plan, const kinds::Kind& kind, const kinds::PointContext& context,
          MPI_Comm comm, int rank) {
  const std::string host = host_name();
  std::vector<std::string> finished;
  bool interrupted = false;
  while (true) {
    wire::Writer request;
    request.put<std::uint8_t>(interrupted ? wire::kFlagInterrupted : 0);
    request.put<std::uint32_t>(static_cast<std::uint32_t>(finished.size()));
    for (const auto& f : finished) request.put_bytes(f);
    finished.clear();
    wire::send(request.bytes(), 0, wire::kRequestTag, comm);

    const std::string reply = wire::receive_from(0, wire::kAssignTag, comm);
    wire::Reader in(reply);
    const auto n = in.get<std::uint64_t>();
    if (n == 0) return;
    for (std::uint64_t k = 0; k < n; ++k) {
      const auto index = in.get<std::uint64_t>();
      if (g_stop_requested.load()) {
        interrupted = true;
        break;
      }
      store::PointRecord record;
      record.index = index;
      record.params = plan.point(index);
      record.id = config::point_id(record.params);
      record.rank = rank;
      record.host = host;
      record.start_time = unix_now();
      kinds::PointContext point = context;
      point.checkpoint_path = kinds::PointCheckpoint::path_for(context.cache_dir, record.id);
      point.note = [&record, rank, &host](const std::string& what) {
        std::printf("point %s (rank %d on %s): %s\n", record.id.c_str(), rank, host.c_str(), what.c_str());
        std::fflush(stdout);
      };
      try {
        kinds::Outcome outcome = kind.run(record.params, point);
        for (const auto& [name, value] : outcome.metrics) {
          if (!std::isfinite(value)) {
            throw Error("metric '" + name + "' is " + (std::isnan(value) ? "NaN" : "infinite"));
          }
        }
        record.metrics = std::move(outcome.metrics);
        record.arrays = std::move(outcome.arrays);
        record.status = store::PointStatus::Done;
      } catch (const kinds::Cancelled&) {
        interrupted = true;  // abandoned: not recorded, computed again on resume
        break;
      } catch (const std::exception& e) {
        record.status = store::PointStatus::Failed;
        record.error = e.what();
      } catch (...) {
        record.status = store::PointStatus::Failed;
        record.error = "unknown exception";
      }
      record.end_time = unix_now();
      finished.push_back(store::encode(record));
    }
  }
}

}  // namespace

int exit_code(const RunSummary& s) {
  if (!s.error.empty()) return kExitError;
  if ((s.interrupted || s.deferred > 0) && s.done_total + s.failed_total < s.planned) return kExitInterrupted;
  if (s.failed_total > 0) return kExitSomeFailed;
  return kExitOk;
}

RunSummary run_sweep(const config::Experiment& experiment, const kinds::Kind& kind, const RunOptions& options,
                     MPI_Comm parent) {
  const auto started = Clock::now();
  int provided = 0;
  XBARSWEEP_MPI(MPI_Query_thread(&provided));
  if (provided < MPI_THREAD_MULTIPLE) {
    throw MpiError("xbarsweep needs MPI_THREAD_MULTIPLE (rank 0 computes while it coordinates)");
  }
  MPI_Comm comm;
  XBARSWEEP_MPI(MPI_Comm_dup(parent, &comm));
  int rank = 0, ranks = 1;
  XBARSWEEP_MPI(MPI_Comm_rank(comm, &rank));
  XBARSWEEP_MPI(MPI_Comm_size(comm, &ranks));

  const config::SweepPlan plan(experiment);
  kinds::PointContext context;
  context.stop = &g_stop_requested;
  // Fixed per run, never derived from the rank count: LibTorch's reductions depend on the
  // thread count, so deriving it would make results depend on how many ranks there were.
  context.threads = std::max(1, options.threads_per_rank);
  context.cache_dir = options.output + ".cache";
  context.checkpoint_s = experiment.checkpoint_s;

  // Rank 0 opens the results file before anyone computes; a failure reaches every rank.
  std::unique_ptr<store::ResultsWriter> writer;
  Pending pending;
  std::string open_error;
  bool corrupt = false;
  if (rank == 0) {
    try {
      store::RunInfo info = options.info;
      writer = std::make_unique<store::ResultsWriter>(options.output, info);
      // A new results file exists, with its run info, before the first point: it opens with h5py
      // and `status` describes it at any moment, even if the run is killed before a point is done.
      writer->publish();
      pending = find_pending(plan, kind, options.shard, *writer, options.retry_failed);
    } catch (const store::CorruptResultsError& e) {
      open_error = e.what();
      corrupt = true;
    } catch (const std::exception& e) {
      open_error = e.what();
    }
  }
  open_error = broadcast((corrupt ? "C" : "E") + open_error, comm);
  if (open_error.size() > 1) {
    XBARSWEEP_MPI(MPI_Comm_free(&comm));
    if (open_error[0] == 'C') throw store::CorruptResultsError(open_error.substr(1));
    throw store::StoreError(open_error.substr(1));
  }

  RunSummary summary;
  if (rank == 0) {
    summary.planned = pending.planned;
    summary.skipped = pending.known_done + pending.known_failed;
    if (pending.order.empty()) {
      std::printf("nothing to compute: all %llu points are already in %s\n",
                  static_cast<unsigned long long>(pending.planned), options.output.c_str());
    } else if (summary.skipped > 0) {
      std::printf("resuming: %llu of %llu points already in %s, %zu to compute on %d rank(s)\n",
                  static_cast<unsigned long long>(summary.skipped),
                  static_cast<unsigned long long>(pending.planned), options.output.c_str(),
                  pending.order.size(), ranks);
    } else {
      std::printf("computing %zu points on %d rank(s) into %s\n", pending.order.size(), ranks,
                  options.output.c_str());
    }
    if (options.end_time > 0) {
      std::printf("the job ends in %.0f s: points expected to outlast it are left for the next job\n",
                  options.end_time - unix_now());
    }
    std::fflush(stdout);
    const std::uint64_t known_done = pending.known_done, known_failed = pending.known_failed;
    Coordinator coordinator(std::move(pending), *writer, comm, ranks, options.progress_interval_s,
                            context.cache_dir, kind, options.end_time);
    if (options.end_time > 0) coordinator.learn_from(writer->records());
    std::thread thread([&] { coordinator.run(); });
    work(plan, kind, context, comm, rank);
    thread.join();
    summary.computed = coordinator.done();
    summary.failed = coordinator.failed();
    summary.done_total = known_done + coordinator.done();
    summary.failed_total = known_failed + coordinator.failed();
    summary.deferred = coordinator.deferred();
    summary.interrupted = coordinator.stopping() && coordinator.error().empty();
    summary.signal = g_stop_signal.load();
    summary.error = coordinator.error();
    writer.reset();  // releases the lock after a final sync + publish
  } else {
    work(plan, kind, context, comm, rank);
  }
  summary.wall_s = std::chrono::duration<double>(Clock::now() - started).count();
  summary = unpack(broadcast(rank == 0 ? pack(summary) : std::string(), comm));
  XBARSWEEP_MPI(MPI_Comm_free(&comm));
  return summary;
}

Shard parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  std::uint64_t i = 0, n = 0;
  const auto whole = [](std::string_view part, std::uint64_t& out) {
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), out);
    return ec == std::errc() && end == part.data() + part.size() && !part.empty();
  };
  const std::string_view view(text);
  if (slash == std::string::npos || !whole(view.substr(0, slash), i) || !whole(view.substr(slash + 1), n) ||
      n < 1 || i >= n)
    throw ConfigError(SourceLocation{"--shard"}, "",
                      "'" + text + "': expected I/N with 0 <= I < N, e.g. 0/4");
  return {i, n};
}

std::string results_path(const config::Experiment& experiment, const std::string& out, const Shard& shard) {
  std::string path = out.empty() ? experiment.output : out;
  if (shard.count > 1) {
    const auto slash = path.find_last_of('/');
    const auto dot = path.find_last_of('.');
    const bool has_ext = dot != std::string::npos && (slash == std::string::npos || dot > slash);
    const std::string tag = ".shard-" + std::to_string(shard.index) + "-of-" + std::to_string(shard.count);
    path = has_ext ? path.substr(0, dot) + tag + path.substr(dot) : path + tag;
  }
  return path;
}

}  // namespace xbarsweep::sweep
