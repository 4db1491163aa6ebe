# Builds a program that must not compile and checks why, in one build: the build must fail, and
# its output must hold the compiler's static_assert diagnostic with the expected message (the
# compiler's own line, so that the source's comment quoting the message cannot match).
#
# Inputs: BUILD_DIR, TARGET, EXPECTED (a regular expression: the message, escaped), and CONFIG
# (empty for single-configuration generators).
foreach(var BUILD_DIR TARGET EXPECTED)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "expect_compile_error.cmake: pass -D${var}=...")
  endif()
endforeach()

set(config_args)
if(NOT "${CONFIG}" STREQUAL "")
  set(config_args --config "${CONFIG}")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${BUILD_DIR}" ${config_args} --target "${TARGET}"
  OUTPUT_VARIABLE output ERROR_VARIABLE output RESULT_VARIABLE result)
if(result EQUAL 0)
  message(FATAL_ERROR "${TARGET} compiled, but it must not:\n${output}")
endif()
if(NOT output MATCHES "static.assert[^\n]*${EXPECTED}")
  message(FATAL_ERROR "${TARGET} failed to compile, but not on the expected static_assert "
    "(expected: ${EXPECTED}):\n${output}")
endif()
message(STATUS "${TARGET} fails to compile, on the expected static_assert")
