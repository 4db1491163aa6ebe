#pragma once
// Where glora::io's functions that are not templates are compiled.
//
// Header-only (the default), each one is an inline function defined in its
// header, and every file that calls one compiles it, with the parts of
// nlohmann/json it uses: parsing and checking a header, writing one, reading
// an adapter's configuration. That is most of the cost of a file that uses
// glora::io. With GLORA_IO_COMPILED_LIB defined (the glora::io target defines
// it when CMake's GLORA_COMPILED is ON) the headers only declare them, and the
// glora_io library defines them once (src/io.cpp, which also defines
// GLORA_IO_BUILDING_LIB).
//
//   GLORA_IO_INLINE   `inline` header-only, nothing compiled: on each such function's
//                     definition (and on a free function's declaration)
//   GLORA_IO_DEFINE   1 where the definitions are compiled: header-only, or in src/io.cpp

#include <nlohmann/json.hpp>

#if defined(GLORA_IO_COMPILED_LIB)
#define GLORA_IO_INLINE
#else
#define GLORA_IO_INLINE inline
#endif

#if !defined(GLORA_IO_COMPILED_LIB) || defined(GLORA_IO_BUILDING_LIB)
#define GLORA_IO_DEFINE 1
#else
#define GLORA_IO_DEFINE 0
#endif

// The library and the files that use it share nlohmann::json objects (ShardIndex
// holds one), so both must lay them out alike: the same nlohmann/json release
// (GLORA_IO_JSON_VERSION, recorded by CMake when the library is built), and
// JSON_DIAGNOSTICS off, since it adds a member to every json. Header-only use
// has neither limit.
#if defined(GLORA_IO_COMPILED_LIB)
#if defined(JSON_DIAGNOSTICS) && JSON_DIAGNOSTICS
#error \
    "glora: the compiled glora::io needs JSON_DIAGNOSTICS off; to build with it, use glora::io header-only (CMake: GLORA_COMPILED=OFF)"
#endif
#define GLORA_IO_SEEN_JSON_VERSION                                           \
  (NLOHMANN_JSON_VERSION_MAJOR * 10000 + NLOHMANN_JSON_VERSION_MINOR * 100 + \
   NLOHMANN_JSON_VERSION_PATCH)
#if defined(GLORA_IO_JSON_VERSION) && GLORA_IO_SEEN_JSON_VERSION != GLORA_IO_JSON_VERSION
#error \
    "glora: this file sees another nlohmann/json release than the compiled glora::io was built with (GLORA_IO_JSON_VERSION)"
#endif
#endif
