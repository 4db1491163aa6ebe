# Sets GLORA_TEST_PYTHON: the Python 3 interpreter for the tests and examples that write files
# from Python, preferring one that can import NumPy (Debian's /usr/bin/python3 before PATH's,
# which may lack it). Empty when there is no Python at all. Included by tests/ and examples/;
# detected anew at each configure, so that installing NumPy later is noticed.
find_program(GLORA_SYSTEM_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
find_program(GLORA_PATH_PYTHON NAMES python3)
set(glora_python "")
foreach(candidate IN ITEMS GLORA_SYSTEM_PYTHON GLORA_PATH_PYTHON)
  if(${candidate})
    execute_process(COMMAND "${${candidate}}" -c "import numpy" RESULT_VARIABLE no_numpy
      OUTPUT_QUIET ERROR_QUIET)
    if(NOT glora_python OR no_numpy EQUAL 0)
      set(glora_python "${${candidate}}")
    endif()
    if(no_numpy EQUAL 0)
      break()
    endif()
  endif()
endforeach()
set(GLORA_TEST_PYTHON "${glora_python}")
# The driver that runs a writer script, then a program reading its files (skip code 77).
set(GLORA_RUN_WITH_FILES "${CMAKE_CURRENT_LIST_DIR}/../tests/files/run_with_files.py")
