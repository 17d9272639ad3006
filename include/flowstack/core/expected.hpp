// flowstack::expected / flowstack::unexpected: std::expected where the standard library has it.
//
// libstdc++ 12 only enables <expected> for compilers with C++20 concepts in full
// (__cpp_concepts >= 202002L); clang 14 is not one of them. For such compilers this header gives
// the subset of std::expected flowstack uses, with the same names and meaning, so the code reads
// the same on both. Code in flowstack always spells flowstack::expected / flowstack::unexpected.
#pragma once

#include <version>

#if defined(__cpp_lib_expected)
#include <expected>

namespace flowstack {
using std::expected;
using std::unexpected;
}  // namespace flowstack

#else
#include <cstdlib>
#include <type_traits>
#include <utility>
#include <variant>

namespace flowstack {

template <typename E>
class unexpected {
 public:
  // clang-format 14 cannot lay out requires-clauses.
  // clang-format off
  template <typename G = E>
    requires std::is_constructible_v<E, G>
  constexpr explicit unexpected(G&& error) : error_(std::forward<G>(error)) {}
  // clang-format on

  constexpr const E& error() const& noexcept { return error_; }
  constexpr E& error() & noexcept { return error_; }
  constexpr E&& error() && noexcept { return std::move(error_); }

 private:
  E error_;
};

template <typename E>
unexpected(E) -> unexpected<E>;

template <typename T, typename E>
class expected;

namespace detail {
template <typename T>
struct is_expected : std::false_type {};
template <typename T, typename E>
struct is_expected<expected<T, E>> : std::true_type {};
template <typename T>
struct is_unexpected : std::false_type {};
template <typename E>
struct is_unexpected<unexpected<E>> : std::true_type {};

[[noreturn]] inline void bad_expected_access() {
  std::abort();
}
}  // namespace detail

template <typename T, typename E>
class expected {
 public:
  using value_type = T;
  using error_type = E;

  // clang-format 14 cannot lay out requires-clauses.
  // clang-format off
  constexpr expected()
    requires std::is_default_constructible_v<T>
      : state_(std::in_place_index<0>) {}

  template <typename U = T>
    requires(!std::is_same_v<std::remove_cvref_t<U>, expected> &&
             !std::is_same_v<std::remove_cvref_t<U>, std::in_place_t> &&
             !detail::is_unexpected<std::remove_cvref_t<U>>::value &&
             std::is_constructible_v<T, U>)
  constexpr expected(U&& value) : state_(std::in_place_index<0>, std::forward<U>(value)) {}
  // clang-format on

  template <typename G>
  constexpr expected(const unexpected<G>& u) : state_(std::in_place_index<1>, u.error()) {}
  template <typename G>
  constexpr expected(unexpected<G>&& u) : state_(std::in_place_index<1>, std::move(u).error()) {}

  constexpr bool has_value() const noexcept { return state_.index() == 0; }
  constexpr explicit operator bool() const noexcept { return has_value(); }

  constexpr T& operator*() & noexcept { return *std::get_if<0>(&state_); }
  constexpr const T& operator*() const& noexcept { return *std::get_if<0>(&state_); }
  constexpr T&& operator*() && noexcept { return std::move(*std::get_if<0>(&state_)); }
  constexpr T* operator->() noexcept { return std::get_if<0>(&state_); }
  constexpr const T* operator->() const noexcept { return std::get_if<0>(&state_); }

  constexpr T& value() & {
    if (!has_value()) detail::bad_expected_access();
    return **this;
  }
  constexpr const T& value() const& {
    if (!has_value()) detail::bad_expected_access();
    return **this;
  }
  constexpr T&& value() && {
    if (!has_value()) detail::bad_expected_access();
    return std::move(**this);
  }
  template <typename U>
  constexpr T value_or(U&& fallback) const& {
    return has_value() ? **this : static_cast<T>(std::forward<U>(fallback));
  }

  constexpr E& error() & noexcept { return *std::get_if<1>(&state_); }
  constexpr const E& error() const& noexcept { return *std::get_if<1>(&state_); }
  constexpr E&& error() && noexcept { return std::move(*std::get_if<1>(&state_)); }

 private:
  std::variant<T, E> state_;
};

template <typename E>
class expected<void, E> {
 public:
  using value_type = void;
  using error_type = E;

  constexpr expected() noexcept = default;
  template <typename G>
  constexpr expected(const unexpected<G>& u) : state_(std::in_place_index<1>, u.error()) {}
  template <typename G>
  constexpr expected(unexpected<G>&& u) : state_(std::in_place_index<1>, std::move(u).error()) {}

  constexpr bool has_value() const noexcept { return state_.index() == 0; }
  constexpr explicit operator bool() const noexcept { return has_value(); }
  constexpr void operator*() const noexcept {}
  constexpr void value() const {
    if (!has_value()) detail::bad_expected_access();
  }

  constexpr E& error() & noexcept { return *std::get_if<1>(&state_); }
  constexpr const E& error() const& noexcept { return *std::get_if<1>(&state_); }
  constexpr E&& error() && noexcept { return std::move(*std::get_if<1>(&state_)); }

 private:
  std::variant<std::monostate, E> state_;
};

}  // namespace flowstack

#endif
