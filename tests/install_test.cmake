# Installs the built tree into WORK_DIR/prefix, configures and builds examples/echo against it,
# with the same compiler and flags as the tree (a sanitizer build links sanitized libraries), and runs
# the example's self-test.
file(REMOVE_RECURSE ${WORK_DIR})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BINARY_DIR} --prefix ${WORK_DIR}/prefix
  RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "cmake --install failed: ${rc}")
endif()
# The program comes with its manual page, where man looks for it.
if(NOT EXISTS ${WORK_DIR}/prefix/share/man/man1/flowstack.1)
  message(FATAL_ERROR "cmake --install put no manual page in share/man/man1")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples/echo -B ${WORK_DIR}/build
  -G Ninja -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
  "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${LINKER_FLAGS}"
  RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "configuring the example against the installed package failed: ${rc}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "building the example against the installed package failed: ${rc}")
endif()
execute_process(COMMAND ${WORK_DIR}/build/echo_server --self-test RESULT_VARIABLE rc TIMEOUT 30)
if(rc)
  message(FATAL_ERROR "the example's self-test failed: ${rc}")
endif()

# A project that asks for the core alone links without OpenSSL: the package must not even look
# for it (CMAKE_DISABLE_FIND_PACKAGE_OpenSSL makes a find_dependency(OpenSSL) fail).
set(core_only ${WORK_DIR}/core-only)
file(WRITE ${core_only}/CMakeLists.txt [=[
cmake_minimum_required(VERSION 3.25)
project(flowstack_core_only LANGUAGES CXX)
set(CMAKE_CXX_STANDARD 23)
find_package(flowstack REQUIRED COMPONENTS core)
if(TARGET flowstack::tls OR TARGET flowstack::flowstack)
  message(FATAL_ERROR "COMPONENTS core loaded more than the core")
endif()
add_executable(core_only main.cpp)
target_link_libraries(core_only PRIVATE flowstack::core)
]=])
file(WRITE ${core_only}/main.cpp [=[
#include <flowstack/core/buffer.hpp>
int main() { return flowstack::buffer::of_string("flow").size() == 4 ? 0 : 1; }
]=])
execute_process(COMMAND ${CMAKE_COMMAND} -S ${core_only} -B ${core_only}/build
  -G Ninja -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
  "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${LINKER_FLAGS}"
  -DCMAKE_DISABLE_FIND_PACKAGE_OpenSSL=TRUE
  RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "configuring a core-only project against the installed package failed: ${rc}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${core_only}/build RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "building a core-only project against the installed package failed: ${rc}")
endif()
execute_process(COMMAND ${core_only}/build/core_only RESULT_VARIABLE rc TIMEOUT 30)
if(rc)
  message(FATAL_ERROR "the core-only program failed: ${rc}")
endif()
