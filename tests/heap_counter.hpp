// Counts the heap allocations a call makes, for the tests that check that a
// call allocates nothing: every block any code of the program takes from the
// heap (Eigen's aligned_malloc, operator new, std::vector) goes through
// malloc, calloc, realloc or an aligned allocation, so counting there
// needs nothing compiled specially, and the kernels checked are the ones the
// other tests run.
//
// Under a sanitizer, whose runtime owns malloc, the count comes from its
// allocation hooks; otherwise this file replaces glibc's malloc family with
// forwards to glibc's own allocator that count (glibc supports replacing
// them, https://www.gnu.org/software/libc/manual/html_node/Replacing-malloc.html).
// Memory mapped directly (mmap, as a BLAS may do for its buffers) is not counted.
//
// Include it in exactly one translation unit of a test program.
#ifndef GLORA_TESTS_HEAP_COUNTER_HPP
#define GLORA_TESTS_HEAP_COUNTER_HPP

#include <atomic>
#include <cstddef>

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define GLORA_TESTS_SANITIZED_HEAP 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define GLORA_TESTS_SANITIZED_HEAP 1
#endif

#ifdef GLORA_TESTS_SANITIZED_HEAP
// Declared here rather than through <sanitizer/allocator_interface.h>, which
// clang ships and g++ does not; both runtimes export it.
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*,
                                                                             std::size_t),
                                                         void (*free_hook)(const volatile void*));
#endif

namespace glora_test::heap {

inline std::atomic<long> allocations{0};
inline std::atomic<bool> counting{false};

inline void count_one() {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
}

#ifdef GLORA_TESTS_SANITIZED_HEAP
inline void on_malloc(const volatile void*, std::size_t) { count_one(); }
inline void on_free(const volatile void*) {}
inline const bool hooks_installed =
    __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free) != 0;
#endif

/// Runs f and returns the number of heap allocations made meanwhile, by any
/// thread. Counting stops however f ends, so that one failure does not spread.
template <typename F>
long allocations_during(F&& f) {
  struct Stop {
    ~Stop() { counting = false; }
  } stop;
  allocations = 0;
  counting = true;
  f();
  counting = false;
  return allocations;
}

}  // namespace glora_test::heap

#ifndef GLORA_TESTS_SANITIZED_HEAP
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void __libc_free(void*);

void* malloc(std::size_t size) noexcept {
  glora_test::heap::count_one();
  return __libc_malloc(size);
}
void* calloc(std::size_t count, std::size_t size) noexcept {
  glora_test::heap::count_one();
  return __libc_calloc(count, size);
}
void* realloc(void* p, std::size_t size) noexcept {
  glora_test::heap::count_one();
  return __libc_realloc(p, size);
}
void* memalign(std::size_t alignment, std::size_t size) noexcept {
  glora_test::heap::count_one();
  return __libc_memalign(alignment, size);
}
void* aligned_alloc(std::size_t alignment, std::size_t size) noexcept {
  return memalign(alignment, size);
}
int posix_memalign(void** p, std::size_t alignment, std::size_t size) noexcept {
  if (alignment == 0 || alignment % sizeof(void*) != 0 || (alignment & (alignment - 1)) != 0) {
    return 22;  // EINVAL
  }
  void* block = memalign(alignment, size);
  if (block == nullptr) return 12;  // ENOMEM
  *p = block;
  return 0;
}
void free(void* p) noexcept { __libc_free(p); }
}
#endif

#endif  // GLORA_TESTS_HEAP_COUNTER_HPP
