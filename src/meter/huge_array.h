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
      madvise(p, bytes_, MADV_HUGEPAGE);  // a hint: fine if refused
      // Written now, a page at a time: a huge page is only made on a write
      // fault, and a table's first touch is a lookup, a read, which would map
      // the shared zero page and leave the table on 4 KiB pages for good. The
      // memory is then also committed at start, not at the first busy minute.
      for (size_t at = 0; at < bytes_; at += kPage) static_cast<volatile char*>(p)[at] = 0;
    }
    data_ = static_cast<T*>(p);  // mmap memory is zero: a valid empty T for our element types
  }
  ~HugeArray() {
    if (data_ != nullptr) munmap(data_, bytes_);
  }
  HugeArray(const HugeArray&) = delete;
  HugeArray& operator=(const HugeArray&) = delete;

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
