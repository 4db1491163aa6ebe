// The compiled part of glora::io: the file-format functions that are not
// templates (parsing and checking headers, writing them, reading adapter and
// PEFT configurations, sharded indexes), with the parts of nlohmann/json they
// use. Programs built against this library (with GLORA_IO_COMPILED_LIB
// defined, as the glora::io target does when CMake's GLORA_COMPILED is ON)
// see only their declarations; see include/glora/io/linkage.hpp.
#ifndef GLORA_IO_COMPILED_LIB
#error "glora's compiled file formats: define GLORA_IO_COMPILED_LIB (CMake: GLORA_COMPILED=ON)"
#endif
#define GLORA_IO_BUILDING_LIB

#include <glora/io.hpp>
