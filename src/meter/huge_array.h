// A fixed-size array of trivially constructible elements in zeroed anonymous
// memory, with transparent huge pages requested (fewer TLB misses on tables of
// millions of flows). Pages are only touched when used.
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
  explicit HugeArray(size_t count) : count_(count), bytes_(count * sizeof(T)) {
    if (bytes_ == 0) return;
    void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    madvise(p, bytes_, MADV_HUGEPAGE);  // a hint: fine if refused
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
  size_t count_;
  size_t bytes_;
  T* data_ = nullptr;
};

}  // namespace poolflow::meter
