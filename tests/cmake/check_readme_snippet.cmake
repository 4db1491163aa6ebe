# Checks that the C++ block between the markers <!-- MARKER:begin --> and <!-- MARKER:end --> of
# README.md is exactly the file SNIPPET, so that the README shows code that the build compiles
# and the tests run.
# Inputs: README, SNIPPET, MARKER (the markers' name; quickstart when not given).

if(NOT DEFINED MARKER OR "${MARKER}" STREQUAL "")
  set(MARKER quickstart)
endif()

file(READ "${README}" readme)
file(READ "${SNIPPET}" snippet)

set(begin_marker "<!-- ${MARKER}:begin -->\n```cpp\n")
set(end_marker "```\n<!-- ${MARKER}:end -->")

string(FIND "${readme}" "${begin_marker}" begin)
string(FIND "${readme}" "${end_marker}" end)
if(begin EQUAL -1 OR end EQUAL -1)
  message(FATAL_ERROR "${README}: the markers <!-- ${MARKER}:begin --> + ```cpp ... ``` + "
    "<!-- ${MARKER}:end --> were not found")
endif()
string(LENGTH "${begin_marker}" begin_length)
math(EXPR begin "${begin} + ${begin_length}")
math(EXPR length "${end} - ${begin}")
if(length LESS 0)
  message(FATAL_ERROR "${README}: ${MARKER}:end comes before ${MARKER}:begin")
endif()
string(SUBSTRING "${readme}" ${begin} ${length} block)

if(NOT block STREQUAL snippet)
  message(FATAL_ERROR "README.md's ${MARKER} block differs from ${SNIPPET}.\n"
    "Paste the file between the markers again.\n"
    "--- README.md ---\n${block}--- ${SNIPPET} ---\n${snippet}")
endif()
message(STATUS "README.md's ${MARKER} block matches ${SNIPPET}")
