#pragma once
/// \file
/// \brief Several results files as one: the shards of a job array and the reruns of one
/// experiment, deduplicated by point id, with where each input came from.

#include <string>
#include <vector>

#include "xbarsweep/store/results_store.hpp"

namespace xbarsweep::store {

/// \brief The files \p patterns name: each pattern a path or a shell glob (`results/*.h5`), in
/// the order given, each glob's matches sorted, no file twice. \throws StoreError for a glob
/// that matches nothing or a path that does not exist.
std::vector<std::string> expand_result_paths(const std::vector<std::string>& patterns);

/// \brief What combine_results made, and what it had to decide.
struct Combined {
  Results results;
  std::vector<std::string> notes;        ///< one line per id stored done twice: which record was kept
  std::vector<std::string> experiments;  ///< the inputs' experiment names, each once, in input order
};

/// \brief Reads \p paths and keeps one record per point id: a done record over a failed one; of
/// two done (or two failed) records the one that ended later (on a tie, the later input). The
/// run info is the first input's, with `merged_from` listing every input; planned_points is 0
/// (a merged file does not know its plan).
/// \throws StoreError when the inputs are different experiments (another kind, or config text
/// that differs in more than its `output` line), unless \p force; CorruptResultsError /
/// StoreError of read_results.
Combined combine_results(const std::vector<std::string>& paths, bool force = false);

/// \brief Writes \p results as the complete results file \p path (snapshot, no journal),
/// atomically: written beside it under a temporary name, then renamed over it.
/// \throws StoreError when it cannot be written, or when \p path is being written by a sweep (its
/// writer lock is held).
void write_results(const std::string& path, const Results& results);

}  // namespace xbarsweep::store
