# Checks that the C++ block between the markers <!-- NAME:begin --> and <!-- NAME:end --> of
# README.md is exactly the file SNIPPET, so that the README shows code that compiles and runs.
# Inputs: README, SNIPPET, NAME (the marker's name, e.g. quickstart).

file(READ "${README}" readme)
file(READ "${SNIPPET}" snippet)

set(begin_marker "<!-- ${NAME}:begin -->\n```cpp\n")
set(end_marker "```\n<!-- ${NAME}:end -->")

string(FIND "${readme}" "${begin_marker}" begin)
string(FIND "${readme}" "${end_marker}" end)
if(begin EQUAL -1 OR end EQUAL -1)
  message(FATAL_ERROR "${README}: the markers <!-- ${NAME}:begin --> + ```cpp ... ``` + "
    "<!-- ${NAME}:end --> were not found")
endif()
string(LENGTH "${begin_marker}" begin_length)
math(EXPR begin "${begin} + ${begin_length}")
math(EXPR length "${end} - ${begin}")
if(length LESS 0)
  message(FATAL_ERROR "${README}: ${NAME}:end comes before ${NAME}:begin")
endif()
string(SUBSTRING "${readme}" ${begin} ${length} block)

if(NOT block STREQUAL snippet)
  message(FATAL_ERROR "README.md's ${NAME} block differs from ${SNIPPET}.\n"
    "Paste the file between the markers again.\n"
    "--- README.md ---\n${block}--- ${SNIPPET} ---\n${snippet}")
endif()
message(STATUS "README.md's ${NAME} block matches ${SNIPPET}")
