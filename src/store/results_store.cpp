#include "xbarsweep/store/results_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <iostream>

#include "journal.hpp"
#include "posix_file.hpp"
#include "snapshot.hpp"
#include "writer_lock.hpp"

namespace xbarsweep::store {

namespace {

using Clock = std::chrono::steady_clock;

/// Applies \p updates to \p points: a record replaces the one of the same id in place, a new id
/// is appended. Keeps the order of first appearance.
void merge_records(std::vector<PointRecord>& points, std::unordered_map<std::string, std::size_t>& position,
                   std::vector<PointRecord>&& updates) {
  for (auto& r : updates) {
    auto [it, inserted] = position.try_emplace(r.id, points.size());
    if (inserted) {
      points.push_back(std::move(r));
    } else {
      points[it->second] = std::move(r);
    }
  }
}

bool same_info(const RunInfo& a, const RunInfo& b) {
  return a.experiment == b.experiment && a.kind == b.kind && a.config_text == b.config_text &&
         a.versions == b.versions && a.swept_paths == b.swept_paths && a.planned_points == b.planned_points;
}

std::string base_name(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

/// Removes R.tmp.<pid> files: snapshots that a killed writer did not finish. Only called while
/// holding the writer lock.
void remove_temporaries(const std::string& path) {
  const std::string dir = detail::parent_directory(path);
  const std::string prefix = base_name(path) + ".tmp.";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  while (const dirent* entry = ::readdir(d)) {
    const std::string name = entry->d_name;
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    if (!std::all_of(name.begin() + static_cast<std::ptrdiff_t>(prefix.size()), name.end(),
                     [](unsigned char c) { return std::isdigit(c); }))
      continue;
    ::unlink((dir + "/" + name).c_str());
  }
  ::closedir(d);
}

/// HDF5 strings end at the first NUL: refuse NULs where they would change an identity, and spell
/// them out in error texts (which come from arbitrary exceptions).
void check_record(const std::string& path, PointRecord& r) {
  const std::string_view nul("\0", 1);
  for (std::size_t at; (at = r.error.find('\0')) != std::string::npos;) r.error.replace(at, 1, "\\0");
  auto has_nul = [&](const std::string& s) { return s.find(nul) != std::string::npos; };
  if (has_nul(r.id) || has_nul(r.host))
    throw StoreError(path + ": point '" + r.id + "': the id or host contains a NUL character");
  for (const auto& entry : r.params.entries()) {
    const auto* text = std::get_if<std::string>(&entry.second);
    if (text && has_nul(*text))
      throw StoreError(path + ": point '" + r.id + "': parameter '" + entry.first +
                       "' contains a NUL character");
  }
  auto bad = [&](const std::string& what, const std::string& name) {
    throw StoreError(path + ": point '" + r.id + "': " + what + " name '" + name +
                     "' cannot be a column (empty, '.', or contains '/')");
  };
  if (r.id.empty()) throw StoreError(path + ": a point record without an id");
  for (const auto& entry : r.params.entries())
    if (!detail::valid_column_name(entry.first)) bad("parameter", entry.first);
  for (const auto& entry : r.metrics)
    if (!detail::valid_column_name(entry.first)) bad("metric", entry.first);
  for (const auto& entry : r.arrays)
    if (!detail::valid_column_name(entry.first)) bad("array", entry.first);
}

}  // namespace

Results read_results(const std::string& path) {
  // The journal is read before the snapshot: a publish that happens in between only moves
  // records from the journal into a newer snapshot, so nothing synced is ever missed.
  const std::string journal_path = path + ".journal";
  detail::JournalContents journal = detail::read_journal(journal_path);
  const bool have_snapshot = detail::path_exists(path);
  if (!have_snapshot && !journal.exists)
    throw StoreError(path + ": no results file (neither it nor " + journal_path + " exists)");
  Results results;
  if (have_snapshot) results = detail::read_snapshot(path);
  std::unordered_map<std::string, std::size_t> position;
  position.reserve(results.points.size() + journal.records.size());
  for (std::size_t i = 0; i < results.points.size(); ++i) {
    if (!position.try_emplace(results.points[i].id, i).second)
      throw CorruptResultsError(path + ": not an xbarsweep results file: point id '" + results.points[i].id +
                                "' occurs twice in points/id");
  }
  merge_records(results.points, position, std::move(journal.records));
  return results;
}

struct ResultsWriter::Impl {
  std::string journal_path;
  detail::WriterLock lock;
  detail::FileDescriptor journal;   // opened at the first sync or publish
  bool journal_exists = false;      // on disk
  std::uint64_t journal_bytes = 0;  // valid bytes on disk (a torn tail beyond is cut)
  std::uint64_t journal_file_bytes = 0;
  std::string buffer;  // framed records not yet written
  bool snapshot_exists = false;
  bool dirty = false;  // records or info differ from the snapshot on disk
  Clock::time_point last_sync = Clock::now();
  Clock::time_point last_publish = Clock::now();
  Clock::duration last_publish_duration{};

  explicit Impl(const std::string& path) : journal_path(path + ".journal"), lock(path) {}

  void open_journal() {
    if (journal) return;
    journal = detail::open_or_throw(journal_path, O_WRONLY | O_CREAT | O_APPEND);
    if (journal_file_bytes > journal_bytes &&
        ::ftruncate(journal.get(), static_cast<off_t>(journal_bytes)) != 0)
      detail::throw_errno(journal_path, "ftruncate (torn tail)", errno);
    journal_file_bytes = journal_bytes;
    if (!journal_exists) {
      detail::fsync_parent_directory(journal_path);
      journal_exists = true;
    }
  }

  void write_journal() {
    if (buffer.empty()) return;
    open_journal();
    try {
      detail::write_all(journal.get(), buffer, journal_path);
      int r;
      do {
        r = ::fdatasync(journal.get());
      } while (r < 0 && errno == EINTR);
      if (r < 0) detail::throw_errno(journal_path, "fdatasync", errno);
    } catch (...) {
      // Cut a partly written frame so that later frames stay readable; keep the buffer to retry.
      if (::ftruncate(journal.get(), static_cast<off_t>(journal_bytes)) != 0) journal.reset();
      throw;
    }
    journal_bytes += buffer.size();
    journal_file_bytes = journal_bytes;
    buffer.clear();
  }

  void empty_journal() {
    if (!journal && !journal_exists) return;
    open_journal();
    if (::ftruncate(journal.get(), 0) != 0) detail::throw_errno(journal_path, "ftruncate", errno);
    journal_bytes = journal_file_bytes = 0;
  }
};

ResultsWriter::ResultsWriter(std::string path, RunInfo info)
    : path_(std::move(path)), info_(std::move(info)), impl_(std::make_unique<Impl>(path_)) {
  remove_temporaries(path_);
  detail::JournalContents journal = detail::read_journal(impl_->journal_path);
  impl_->journal_exists = journal.exists;
  impl_->journal_bytes = journal.good_bytes;
  impl_->journal_file_bytes = journal.file_bytes;
  impl_->snapshot_exists = detail::path_exists(path_);
  if (impl_->snapshot_exists) {
    Results stored = detail::read_snapshot(path_);
    impl_->dirty = !same_info(stored.info, info_);
    records_ = std::move(stored.points);
    for (std::size_t i = 0; i < records_.size(); ++i) {
      if (!position_.try_emplace(records_[i].id, i).second)
        throw CorruptResultsError(path_ + ": not an xbarsweep results file: point id '" + records_[i].id +
                                  "' occurs twice in points/id");
    }
  }
  if (!journal.records.empty()) impl_->dirty = true;
  merge_records(records_, position_, std::move(journal.records));
  status_.reserve(records_.size());
  for (const auto& r : records_) status_[r.id] = r.status;
}

ResultsWriter::~ResultsWriter() {
  if (!impl_) return;
  try {
    sync();
  } catch (const std::exception& e) {
    std::cerr << "xbarsweep: " << e.what() << '\n';
  }
  try {
    if (impl_->dirty) publish();
  } catch (const std::exception& e) {
    std::cerr << "xbarsweep: " << e.what() << '\n';
  }
  remove_temporaries(path_);
}

void ResultsWriter::append(PointRecord record) {
  check_record(path_, record);
  detail::append_frame(impl_->buffer, encode(record));
  status_[record.id] = record.status;
  auto [it, inserted] = position_.try_emplace(record.id, records_.size());
  if (inserted) {
    records_.push_back(std::move(record));
  } else {
    records_[it->second] = std::move(record);
  }
  impl_->dirty = true;
}

void ResultsWriter::sync() {
  impl_->write_journal();
  impl_->last_sync = Clock::now();
}

bool ResultsWriter::synced() const { return impl_->buffer.empty(); }

void ResultsWriter::publish() {
  Impl& s = *impl_;
  if (!s.dirty && s.snapshot_exists) return;
  // Journal first: should we be killed after the rename but before the journal is emptied, the
  // journal replayed over the new snapshot must end with the newest record of every id.
  sync();
  const auto start = Clock::now();
  const std::string temporary = path_ + ".tmp." + std::to_string(::getpid());
  try {
    detail::write_snapshot(temporary, info_, records_);
    {
      detail::FileDescriptor fd = detail::open_or_throw(temporary, O_RDONLY);
      detail::fsync_or_throw(fd.get(), temporary);
    }
    if (::rename(temporary.c_str(), path_.c_str()) != 0)
      detail::throw_errno(path_, ("rename from " + temporary).c_str(), errno);
  } catch (...) {
    ::unlink(temporary.c_str());
    throw;
  }
  detail::fsync_parent_directory(path_);
  s.snapshot_exists = true;
  s.dirty = false;
  // Only now, with the new snapshot durable, may the journal forget its records.
  s.empty_journal();
  const auto end = Clock::now();
  s.last_publish = end;
  s.last_publish_duration = end - start;
}

void ResultsWriter::maybe_flush(std::chrono::milliseconds sync_every,
                                std::chrono::milliseconds publish_every) {
  Impl& s = *impl_;
  const auto now = Clock::now();
  if (!s.buffer.empty() && now - s.last_sync >= sync_every) sync();
  const auto interval = std::max<Clock::duration>(publish_every, 20 * s.last_publish_duration);
  if (s.dirty && now - s.last_publish >= interval) publish();
}

}  // namespace xbarsweep::store
