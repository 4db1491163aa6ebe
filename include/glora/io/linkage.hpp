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
//   GLORA_IO_INLINE   written before each such definition: `inline` header-only
//   GLORA_IO_DEFINE   1 where the definitions are compiled: header-only, or in src/io.cpp

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
