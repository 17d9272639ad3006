# `make install`: the libraries, the headers, the program and a CMake package config, so that
# another project can `find_package(flowstack)` and link `flowstack::flowstack`.
include(CMakePackageConfigHelpers)

get_property(flowstack_modules GLOBAL PROPERTY FLOWSTACK_MODULES)
install(TARGETS flowstack ${flowstack_modules}
  EXPORT flowstack-targets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/flowstack DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(TARGET flowstack_cli)
  install(TARGETS flowstack_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

set(flowstack_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/flowstack)
install(EXPORT flowstack-targets NAMESPACE flowstack:: DESTINATION ${flowstack_cmake_dir})
configure_package_config_file(cmake/flowstack-config.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/flowstack-config.cmake
  INSTALL_DESTINATION ${flowstack_cmake_dir})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/flowstack-config-version.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${CMAKE_CURRENT_BINARY_DIR}/flowstack-config.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/flowstack-config-version.cmake
  DESTINATION ${flowstack_cmake_dir})
