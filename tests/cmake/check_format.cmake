# Checks that every C++ file of the project is formatted as .clang-format says.
# Inputs: SOURCE_DIR, CLANG_FORMAT. Fix with: clang-format -i <the files listed>.

set(files)
foreach(dir IN ITEMS include tests examples bench tools)
  file(GLOB_RECURSE found "${SOURCE_DIR}/${dir}/*.hpp" "${SOURCE_DIR}/${dir}/*.cpp"
    "${SOURCE_DIR}/${dir}/*.h")
  list(APPEND files ${found})
endforeach()
list(SORT files)
list(LENGTH files count)
message(STATUS "checking the format of ${count} files")

set(unformatted)
foreach(file IN LISTS files)
  execute_process(COMMAND "${CLANG_FORMAT}" --dry-run -Werror "${file}"
    WORKING_DIRECTORY "${SOURCE_DIR}" RESULT_VARIABLE result OUTPUT_QUIET ERROR_QUIET)
  if(NOT result EQUAL 0)
    file(RELATIVE_PATH relative "${SOURCE_DIR}" "${file}")
    list(APPEND unformatted "${relative}")
  endif()
endforeach()
if(unformatted)
  list(JOIN unformatted " " names)
  message(FATAL_ERROR "not clang-formatted; fix with (from the source directory):\n"
    "  clang-format -i ${names}")
endif()
