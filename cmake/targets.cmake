# The targets that the full build (CMakeLists.txt) and the torch-free core build (cmake/core_only.cmake) share.

# Every dependency but LibTorch.
macro(scvae_find_dependencies)
  find_package(PNG REQUIRED)
  find_package(JPEG REQUIRED)
  find_package(ZLIB REQUIRED)
  find_package(Threads REQUIRED)
  find_package(nlohmann_json REQUIRED)
  find_package(cxxopts REQUIRED)
  find_package(OpenMP REQUIRED)  # faiss-targets.cmake names OpenMP::OpenMP_CXX without finding it
  find_package(faiss REQUIRED)
  # BLAS and LAPACK for the spectral embedding (dsyrk, dgemm, dsyevr: liblapack-dev and libblas-dev, or OpenBLAS's,
  # come with libfaiss-dev)
  find_library(SCVAE_LAPACK NAMES lapack REQUIRED)
  find_library(SCVAE_BLAS NAMES blas REQUIRED)
  # oneDNN (libdnnl-dev) for the convolutions of the torch-free inference engine (lib/src/infer/)
  find_library(SCVAE_DNNL NAMES dnnl REQUIRED)
  find_path(SCVAE_DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp REQUIRED)
endmacro()

# The settings every library of lib/ shares: include paths, the dependencies but LibTorch, warnings, the model
# paths and version.
function(scvae_library_settings tgt)
  target_include_directories(${tgt} PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/lib/include>
                             PRIVATE ${PROJECT_SOURCE_DIR}/lib/src)
  target_link_libraries(${tgt} PUBLIC nlohmann_json::nlohmann_json faiss PNG::PNG JPEG::JPEG ZLIB::ZLIB
                        Threads::Threads $<LINK_ONLY:OpenMP::OpenMP_CXX> $<BUILD_INTERFACE:${SCVAE_LAPACK}>
                        $<BUILD_INTERFACE:${SCVAE_BLAS}> $<BUILD_INTERFACE:${SCVAE_DNNL}>
                        $<INSTALL_INTERFACE:lapack> $<INSTALL_INTERFACE:blas> $<INSTALL_INTERFACE:dnnl>)
  # warnings on every file, the LibTorch ones included (LibTorch's headers are system headers: quiet)
  target_compile_options(${tgt} PRIVATE -Wall -Wextra -Wno-deprecated-declarations)
  target_compile_definitions(${tgt} PRIVATE
    SCVAE_VERSION="${PROJECT_VERSION}"
    SCVAE_SOURCE_MODELS_DIR="${PROJECT_SOURCE_DIR}/models"
    SCVAE_INSTALL_MODELS_DIR="${CMAKE_INSTALL_PREFIX}/share/scvae/models")
  # the OpenMP loops: the sparse k-means, and the inference engine's (on oneDNN's threads: Debian builds oneDNN
  # with the OpenMP runtime)
  set_property(SOURCE ${PROJECT_SOURCE_DIR}/lib/src/cluster/kmeans.cpp ${PROJECT_SOURCE_DIR}/lib/src/infer/engine.cpp
               APPEND PROPERTY COMPILE_OPTIONS ${OpenMP_CXX_FLAGS})
endfunction()

# A static library of lib/ named NAME from the given sources (or objects); the caller links LibTorch where the
# sources need it.
function(scvae_add_library name)
  add_library(${name} STATIC ${ARGN})
  scvae_library_settings(${name})
endfunction()

# A tools library NAME (default scvae_tools: the drivers and tools/common) from SOURCES over the library LIBRARY
# (default scvae), and the programs PROGRAMS (tools/NAME/main.cpp each) into bin/.
function(scvae_add_tools)
  cmake_parse_arguments(T "" "NAME;LIBRARY" "SOURCES;PROGRAMS" ${ARGN})
  if(NOT T_NAME)
    set(T_NAME scvae_tools)
  endif()
  if(NOT T_LIBRARY)
    set(T_LIBRARY scvae)
  endif()
  add_library(${T_NAME} STATIC ${T_SOURCES})
  target_include_directories(${T_NAME} PUBLIC ${PROJECT_SOURCE_DIR}/tools/common ${PROJECT_SOURCE_DIR}/tools)
  target_link_libraries(${T_NAME} PUBLIC ${T_LIBRARY} cxxopts::cxxopts)
  target_compile_options(${T_NAME} PRIVATE -Wall -Wextra)
  foreach(name ${T_PROGRAMS})
    add_executable(${name} ${PROJECT_SOURCE_DIR}/tools/${name}/main.cpp)
    target_link_libraries(${name} PRIVATE ${T_NAME})
    target_compile_options(${name} PRIVATE -Wall -Wextra)
    set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bin)
  endforeach()
endfunction()

# The fuzz targets' replay tests (fuzz/) and, with SCVAE_BUILD_TESTS, the unit and CLI tests (tests/).
macro(scvae_add_tests)
  if(SCVAE_BUILD_TESTS)
    enable_testing()
  endif()
  add_subdirectory(fuzz)
  if(SCVAE_BUILD_TESTS)
    add_subdirectory(tests)
  endif()
endmacro()
