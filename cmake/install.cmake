# `make install`: the libraries, the headers, the program and a CMake package config, so that
# another project can `find_package(flowstack)` and link `flowstack::flowstack`, or ask for some
# modules only: `find_package(flowstack REQUIRED COMPONENTS core)` links `flowstack::core` and needs
# neither OpenSSL nor the other modules.
include(CMakePackageConfigHelpers)

set(flowstack_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/flowstack)
get_property(flowstack_modules GLOBAL PROPERTY FLOWSTACK_MODULES)

# One export set per module; the config file records which modules each one links, so that asking
# for a component brings in what it needs and nothing else.
set(flowstack_components "")
set(flowstack_component_requires "")
foreach(target IN LISTS flowstack_modules)
  string(REPLACE "flowstack_" "" module ${target})
  list(APPEND flowstack_components ${module})
  install(TARGETS ${target}
    EXPORT flowstack-${module}-targets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(EXPORT flowstack-${module}-targets NAMESPACE flowstack::
    DESTINATION ${flowstack_cmake_dir})
  get_target_property(links ${target} LINK_LIBRARIES)
  set(requires "")
  foreach(link IN LISTS links)
    if(link MATCHES "^flowstack_(.+)$")
      list(APPEND requires ${CMAKE_MATCH_1})
    endif()
  endforeach()
  list(JOIN requires " " requires)
  string(APPEND flowstack_component_requires "set(_flowstack_requires_${module} ${requires})\n")
endforeach()
list(JOIN flowstack_components " " flowstack_components)

install(TARGETS flowstack EXPORT flowstack-all-targets)
install(EXPORT flowstack-all-targets NAMESPACE flowstack:: DESTINATION ${flowstack_cmake_dir})
install(DIRECTORY include/flowstack DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(TARGET flowstack_cli)
  install(TARGETS flowstack_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

configure_package_config_file(cmake/flowstack-config.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/flowstack-config.cmake
  INSTALL_DESTINATION ${flowstack_cmake_dir})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/flowstack-config-version.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${CMAKE_CURRENT_BINARY_DIR}/flowstack-config.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/flowstack-config-version.cmake
  DESTINATION ${flowstack_cmake_dir})
