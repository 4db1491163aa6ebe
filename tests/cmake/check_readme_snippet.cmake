# Checks that the C++ block between the markers <!-- quickstart:begin --> and
# <!-- quickstart:end --> of README.md is exactly the file SNIPPET (examples/quickstart.cpp).
# Inputs: README, SNIPPET.

file(READ "${README}" readme)
file(READ "${SNIPPET}" snippet)

set(begin_marker "<!-- quickstart:begin -->\n```cpp\n")
set(end_marker "```\n<!-- quickstart:end -->")

string(FIND "${readme}" "${begin_marker}" begin)
string(FIND "${readme}" "${end_marker}" end)
if(begin EQUAL -1 OR end EQUAL -1)
  message(FATAL_ERROR "${README}: the markers <!-- quickstart:begin --> + ```cpp ... ``` + "
    "<!-- quickstart:end --> were not found")
endif()
string(LENGTH "${begin_marker}" begin_length)
math(EXPR begin "${begin} + ${begin_length}")
math(EXPR length "${end} - ${begin}")
if(length LESS 0)
  message(FATAL_ERROR "${README}: quickstart:end comes before quickstart:begin")
endif()
string(SUBSTRING "${readme}" ${begin} ${length} block)

if(NOT block STREQUAL snippet)
  message(FATAL_ERROR "README.md's quickstart block differs from ${SNIPPET}.\n"
    "Paste the file between the markers again.\n"
    "--- README.md ---\n${block}--- ${SNIPPET} ---\n${snippet}")
endif()
message(STATUS "README.md's quickstart block matches ${SNIPPET}")
