// A fixed-size array of trivially constructible elements in zeroed anonymous
// memory on huge pages where the system has them reserved (vm.nr_hugepages),
// otherwise on normal pages with transparent huge pages requested: fewer TLB
// misses on tables of millions of flows.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <new>
#include <type_traits>

namespace poolflow::meter {

template <class T>
class HugeArray {
  static_assert(std::is_trivially_destructible_v<T>);

 public:
  explicit HugeArray(size_t count)
      : count_(count), bytes_((count * sizeof(T) + kHugePage - 1) & ~(kHugePage - 1)) {
    if (bytes_ == 0) return;
    constexpr int kFlags = MAP_PRIVATE | MAP_ANONYMOUS;
    void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, kFlags | MAP_HUGETLB, -1, 0);
    if (p == MAP_FAILED) {
      p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, kFlags, -1, 0);
      if (p == MAP_FAILED) throw std::bad_alloc();
      madvise(p, bytes_, MADV_HUGEPAGE);  // a hint: fine if refused (see commit())
    }
    data_ = static_cast<T*>(p);  // mmap memory is zero: a valid empty T for our element types
  }
  ~HugeArray() {
    if (data_ != nullptr) munmap(data_, bytes_);
  }
  HugeArray(const HugeArray&) = delete;
  HugeArray& operator=(const HugeArray&) = delete;

  /// Writes every page from the calling thread, so that the memory is committed
  /// now and placed on that thread's NUMA node (the kernel places a page where
  /// it is first touched). It also makes the transparent huge pages: they are
  /// only made on a write fault, and a table's first touch is otherwise a
  /// lookup, whose read maps the shared zero page and leaves it on 4 KiB pages.
  void commit() {
    for (size_t at = 0; at < bytes_; at += kPage) reinterpret_cast<volatile char*>(data_)[at] = 0;
  }

  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  size_t size() const { return count_; }

 private:
  static constexpr size_t kHugePage = size_t{2} << 20;
  static constexpr size_t kPage = 4096;
  size_t count_;
  size_t bytes_;  ///< a whole number of huge pages
  T* data_ = nullptr;
};

}  // namespace poolflow::meter
