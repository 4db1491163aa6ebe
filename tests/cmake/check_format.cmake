# Checks that every C++ file of the project is formatted as .clang-format says.
# Inputs: SOURCE_DIR, CLANG_FORMAT. Fix with: clang-format -i <the files listed>.

set(files)
foreach(dir IN ITEMS include tests examples bench)
  file(GLOB_RECURSE found "${SOURCE_DIR}/${dir}/*.hpp" "${SOURCE_DIR}/${dir}/*.cpp"
    "${SOURCE_DIR}/${dir}/*.h")
  list(APPEND files ${found})
endforeach()
list(SORT files)
list(LENGTH files count)
message(STATUS "checking the format of ${count} files")

execute_process(COMMAND "${CLANG_FORMAT}" --dry-run -Werror ${files}
  WORKING_DIRECTORY "${SOURCE_DIR}" RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "some files are not clang-formatted; run clang-format -i on them")
endif()
