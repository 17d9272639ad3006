# Every public header compiles on its own (STYLE.md §1): one translation unit per header that
# includes it twice and nothing else, built without the precompiled header, so a header that
# leans on an include it does not make, or lacks #pragma once, breaks the build.
file(GLOB_RECURSE flowstack_public_headers RELATIVE ${PROJECT_SOURCE_DIR}/include
  CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/include/flowstack/*.hpp)
set(header_check_sources "")
foreach(header IN LISTS flowstack_public_headers)
  string(REGEX REPLACE "[/.]" "_" stem "${header}")
  set(source ${PROJECT_BINARY_DIR}/header_check/${stem}.cpp)
  set(text "#include <${header}>\n#include <${header}>\n")
  if(EXISTS ${source})
    file(READ ${source} old)
  endif()
  if(NOT old STREQUAL text)
    file(WRITE ${source} "${text}")
  endif()
  list(APPEND header_check_sources ${source})
endforeach()
add_library(flowstack_header_check OBJECT ${header_check_sources})
get_property(header_check_modules GLOBAL PROPERTY FLOWSTACK_MODULES)
target_link_libraries(flowstack_header_check PRIVATE ${header_check_modules})
