#pragma once
/// \file
/// \brief Every MPI call's return code checked: XBARSWEEP_MPI(MPI_Xxx(...)) throws MpiError
/// naming the call and MPI's own text for the code. Communicators must return errors
/// (MPI_ERRORS_RETURN, set by the command after MPI_Init) for codes to reach the caller; with MPI's
/// default handler an error aborts the job before the check sees it.

#include <mpi.h>

#include <string>

#include "xbarsweep/error.hpp"

namespace xbarsweep::sweep::impl {

inline void check_mpi(int code, const char* call, const char* file, int line) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) length = 0;
  throw MpiError(std::string(call) + " failed: " +
                     (length > 0 ? std::string(text, static_cast<std::size_t>(length))
                                 : "error " + std::to_string(code)),
                 CodeLocation{file, line});
}

}  // namespace xbarsweep::sweep::impl

/// Runs an MPI call and throws xbarsweep::MpiError unless it returned MPI_SUCCESS.
#define XBARSWEEP_MPI(call) ::xbarsweep::sweep::impl::check_mpi((call), #call, __FILE__, __LINE__)
