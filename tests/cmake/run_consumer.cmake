# Builds and runs a small outside project that uses glora, the way a user would.
#
#   MODE=install  install this build tree into a fresh prefix, check that only headers, CMake
#                 package files, the compiled libraries and the tool were installed, then
#                 find_package(glora) from tests/consumer
#   MODE=recipe   the same, but installed by the README's install commands (the block between
#                 <!-- install-recipe:begin --> and <!-- install-recipe:end -->), run as written
#                 from the source tree except for three paths: the build directory (`build`) and
#                 the prefix go to WORK_DIR, and `-S .` is the source tree
#   MODE=subdir   add_subdirectory() the source tree from tests/consumer_subdir
#
# Other inputs: GLORA_SOURCE_DIR, GLORA_BINARY_DIR, WORK_DIR, README (for MODE=recipe), CONFIG,
# GENERATOR, CXX_COMPILER, CXX_FLAGS (the compiler and flags of the calling build, so sanitizer
# builds stay consistent), EXPECT_IO (ON when the calling build defines glora::io: the consumer
# then builds and runs glora_io_consumer too), EXPECT_TOOL (ON when the calling build has the glora
# tool: MODE=install then requires bin/glora and runs it; the recipe builds nothing, so installs
# no tool).

foreach(var MODE GLORA_SOURCE_DIR GLORA_BINARY_DIR WORK_DIR GENERATOR CXX_COMPILER)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_consumer.cmake: ${var} is not set")
  endif()
endforeach()

function(run)
  string(REPLACE ";" " " pretty "${ARGN}")
  message(STATUS "+ ${pretty}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "command failed (${result}): ${pretty}")
  endif()
endfunction()

# Runs the README's install recipe with its build directory and prefix moved into WORK_DIR.
function(run_readme_recipe build_dir prefix)
  file(READ "${README}" readme)
  set(begin_marker "<!-- install-recipe:begin -->\n```sh\n")
  set(end_marker "```\n<!-- install-recipe:end -->")
  string(FIND "${readme}" "${begin_marker}" begin)
  string(FIND "${readme}" "${end_marker}" end)
  if(begin EQUAL -1 OR end EQUAL -1)
    message(FATAL_ERROR "${README}: the markers <!-- install-recipe:begin --> + ```sh ... ``` + "
      "<!-- install-recipe:end --> were not found")
  endif()
  string(LENGTH "${begin_marker}" begin_length)
  math(EXPR begin "${begin} + ${begin_length}")
  math(EXPR length "${end} - ${begin}")
  string(SUBSTRING "${readme}" ${begin} ${length} block)
  message(STATUS "README's install recipe:\n${block}")

  string(REPLACE "\\\n" " " block "${block}")  # continuation lines
  string(REPLACE "&&" "\n" block "${block}")
  string(REPLACE "\n" ";" lines "${block}")
  set(configured OFF)
  set(installed OFF)
  foreach(line IN LISTS lines)
    string(REGEX REPLACE "(^| )#.*$" "" line "${line}")  # comments
    string(STRIP "${line}" line)
    if(line STREQUAL "")
      continue()
    endif()
    separate_arguments(args UNIX_COMMAND "${line}")
    list(POP_FRONT args program)
    if(NOT program STREQUAL "cmake")
      message(FATAL_ERROR "the install recipe runs '${program}'; only cmake commands are expected")
    endif()
    set(command "${CMAKE_COMMAND}")
    set(previous "")
    foreach(arg IN LISTS args)
      if(previous STREQUAL "-S" AND arg STREQUAL ".")
        set(arg "${GLORA_SOURCE_DIR}")
      elseif(previous MATCHES "^(-B|--install|--build)$")
        set(arg "${build_dir}")
      elseif(previous STREQUAL "--prefix")
        set(arg "${prefix}")
      endif()
      if(arg STREQUAL "-S")
        set(configured ON)
      elseif(arg STREQUAL "--install")
        set(installed ON)
      endif()
      list(APPEND command "${arg}")
      set(previous "${arg}")
    endforeach()
    string(REPLACE ";" " " pretty "${command}")
    message(STATUS "+ ${pretty}")
    execute_process(COMMAND ${command} WORKING_DIRECTORY "${GLORA_SOURCE_DIR}"
      RESULT_VARIABLE result)
    if(NOT result EQUAL 0)
      message(FATAL_ERROR "the README's install recipe failed (${result}) at: ${line}")
    endif()
  endforeach()
  if(NOT configured OR NOT installed)
    message(FATAL_ERROR "the install recipe should configure (cmake -S) and install "
      "(cmake --install)")
  endif()
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

# The outside projects build in the calling build's configuration but without its flags (its
# optimisation, and NDEBUG, which nothing in glora's headers depends on): what they check is how
# glora is found, compiled and linked, and unoptimised they compile faster. (An installed
# libglora.a keeps the flags it was built with.)
set(config_args)
set(build_config_args)
if(NOT "${CONFIG}" STREQUAL "")
  string(TOUPPER "${CONFIG}" config_upper)
  set(config_args "-DCMAKE_BUILD_TYPE=${CONFIG}" "-DCMAKE_CXX_FLAGS_${config_upper}=")
  set(build_config_args --config "${CONFIG}")
endif()

set(configure_args
  -G "${GENERATOR}"
  "-DGLORA_EXPECT_IO=${EXPECT_IO}"
  "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
  "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
  ${config_args})

if(MODE STREQUAL "install" OR MODE STREQUAL "recipe")
  set(prefix "${WORK_DIR}/prefix")
  if(MODE STREQUAL "install")
    run("${CMAKE_COMMAND}" --install "${GLORA_BINARY_DIR}" --prefix "${prefix}" ${build_config_args})
  else()
    run_readme_recipe("${WORK_DIR}/glora-build" "${prefix}")
  endif()

  # Only headers, the package's CMake files, (in the compiled mode) the libraries and (once built)
  # the glora tool may be installed.
  file(GLOB_RECURSE installed RELATIVE "${prefix}" "${prefix}/*")
  list(LENGTH installed count)
  if(count EQUAL 0)
    message(FATAL_ERROR "nothing was installed into ${prefix}")
  endif()
  set(has_config OFF)
  set(has_header OFF)
  set(has_tool OFF)
  foreach(file IN LISTS installed)
    message(STATUS "installed: ${file}")
    if(file MATCHES "^include/glora/.*\\.hpp$")
      set(has_header ON)
    elseif(file MATCHES "^lib[^/]*/libglora(_io)?\\.a$")
    elseif(file STREQUAL "bin/glora")
      set(has_tool ON)
    elseif(file MATCHES "^[^/]+(/[^/]+)?/cmake/glora/[^/]+\\.cmake$")
      if(file MATCHES "/gloraConfig\\.cmake$")
        set(has_config ON)
      endif()
    else()
      message(FATAL_ERROR "unexpected installed file: ${file}")
    endif()
  endforeach()
  if(NOT has_header OR NOT has_config)
    message(FATAL_ERROR "the install lacks include/glora/*.hpp or gloraConfig.cmake")
  endif()
  if(MODE STREQUAL "install" AND EXPECT_TOOL AND NOT has_tool)
    message(FATAL_ERROR "the install lacks bin/glora, the command-line tool")
  endif()
  if(has_tool)
    execute_process(COMMAND "${prefix}/bin/glora" --version OUTPUT_VARIABLE version
      RESULT_VARIABLE result)
    if(NOT result EQUAL 0 OR NOT version MATCHES "^glora [0-9]+\\.[0-9]+\\.[0-9]+\n$")
      message(FATAL_ERROR "${prefix}/bin/glora --version failed (${result}): ${version}")
    endif()
    message(STATUS "installed tool: ${version}")
  endif()

  run("${CMAKE_COMMAND}" -S "${GLORA_SOURCE_DIR}/tests/consumer" -B "${WORK_DIR}/build"
    ${configure_args}
    "-DCMAKE_PREFIX_PATH=${prefix}"
    "-DGLORA_EXPECTED_PREFIX=${prefix}"
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
elseif(MODE STREQUAL "subdir")
  run("${CMAKE_COMMAND}" -S "${GLORA_SOURCE_DIR}/tests/consumer_subdir" -B "${WORK_DIR}/build"
    ${configure_args}
    "-DGLORA_SOURCE_DIR=${GLORA_SOURCE_DIR}")
else()
  message(FATAL_ERROR "run_consumer.cmake: unknown MODE '${MODE}'")
endif()

run("${CMAKE_COMMAND}" --build "${WORK_DIR}/build" ${build_config_args})

set(apps glora_consumer)
if(EXPECT_IO)
  list(APPEND apps glora_io_consumer)
endif()
foreach(name IN LISTS apps)
  set(app "${WORK_DIR}/build/${name}")
  if(NOT EXISTS "${app}" AND NOT "${CONFIG}" STREQUAL "")
    set(app "${WORK_DIR}/build/${CONFIG}/${name}")
  endif()
  execute_process(COMMAND "${app}" WORKING_DIRECTORY "${WORK_DIR}" RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "${app} failed (${result})")
  endif()
endforeach()
