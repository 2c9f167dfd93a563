# Warnings as an INTERFACE target, not edits to global flags.
add_library(xbarsweep_warnings INTERFACE)
target_compile_options(xbarsweep_warnings INTERFACE
  $<$<CXX_COMPILER_ID:GNU,Clang>:-Wall -Wextra -Wno-unused-parameter>)
