# The module dependency rule of DESIGN.md §2.1, checked on the sources: a module's files (its
# public headers under include/flowstack/<module>/ and its code under src/<module>/) include
# headers of the modules it may depend on, and of no other.
#
#   cmake -DSOURCE_DIR=<repository> -P module_deps.cmake
#
# Fails with one line per include that breaks the rule.
cmake_minimum_required(VERSION 3.25)

set(allowed_core "")
set(allowed_net core)
set(allowed_socket core net)
set(allowed_stack core net)
set(allowed_tls core)
set(allowed_vchan core)
set(allowed_http core net)
set(allowed_dns core net http)
set(allowed_gateway core net stack dns)
set(allowed_cli core net socket stack tls vchan http dns gateway)
set(modules core net socket stack tls vchan http dns gateway cli)

set(violations "")
foreach(module IN LISTS modules)
  file(GLOB_RECURSE files
    "${SOURCE_DIR}/include/flowstack/${module}/*.hpp"
    "${SOURCE_DIR}/src/${module}/*.hpp"
    "${SOURCE_DIR}/src/${module}/*.cpp")
  foreach(path IN LISTS files)
    file(RELATIVE_PATH file "${SOURCE_DIR}" "${path}")
    file(STRINGS "${path}" includes REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]flowstack/")
    foreach(line IN LISTS includes)
      string(REGEX REPLACE "^.*flowstack/([A-Za-z0-9_]+)/.*$" "\\1" used "${line}")
      if(used STREQUAL module)
        continue()
      endif()
      if(NOT used IN_LIST modules)
        list(APPEND violations "${file}: includes flowstack/${used}/, which is no module")
      elseif(NOT used IN_LIST allowed_${module})
        list(APPEND violations "${file}: ${module} may not depend on ${used}")
      endif()
    endforeach()
  endforeach()
endforeach()

# OpenSSL is the tls module's engine, not part of its interface: no public header includes it
# or names its types (the TLS flow's OpenSSL side lives in src/tls/).
file(GLOB_RECURSE public_headers "${SOURCE_DIR}/include/flowstack/*.hpp")
foreach(path IN LISTS public_headers)
  file(RELATIVE_PATH file "${SOURCE_DIR}" "${path}")
  file(STRINGS "${path}" openssl_lines REGEX "#[ \t]*include[ \t]*<openssl/|ssl_st|bio_st")
  if(openssl_lines)
    list(APPEND violations "${file}: a public header names OpenSSL")
  endif()
endforeach()

# Every folder under src/ and include/flowstack/ is a module the rule knows.
file(GLOB dirs LIST_DIRECTORIES true "${SOURCE_DIR}/src/*" "${SOURCE_DIR}/include/flowstack/*")
foreach(dir IN LISTS dirs)
  if(IS_DIRECTORY "${dir}")
    get_filename_component(name "${dir}" NAME)
    if(NOT name IN_LIST modules)
      file(RELATIVE_PATH dir "${SOURCE_DIR}" "${dir}")
      list(APPEND violations "${dir}: a module the dependency rule does not know")
    endif()
  endif()
endforeach()

# One line per violation, printed as is (FATAL_ERROR would rewrap them).
foreach(violation IN LISTS violations)
  message(NOTICE "${violation}")
endforeach()
if(violations)
  message(FATAL_ERROR "the module dependency rule of DESIGN.md §2.1 is broken (see above)")
endif()
message(STATUS "module dependency rule holds")
