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
endmacro()

# scvae (libscvae) from the given sources: warnings on, the model paths and version; the caller links LibTorch
# where the sources need it.
function(scvae_add_library)
  add_library(scvae STATIC ${ARGN})
  target_include_directories(scvae PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/lib/include>
                             PRIVATE ${PROJECT_SOURCE_DIR}/lib/src)
  target_link_libraries(scvae PUBLIC nlohmann_json::nlohmann_json faiss PNG::PNG JPEG::JPEG ZLIB::ZLIB
                        Threads::Threads $<BUILD_INTERFACE:${SCVAE_LAPACK}> $<BUILD_INTERFACE:${SCVAE_BLAS}>
                        $<INSTALL_INTERFACE:lapack> $<INSTALL_INTERFACE:blas>)
  # warnings on every file, the LibTorch ones included (LibTorch's headers are system headers: quiet)
  target_compile_options(scvae PRIVATE -Wall -Wextra -Wno-deprecated-declarations)
  target_compile_definitions(scvae PRIVATE
    SCVAE_VERSION="${PROJECT_VERSION}"
    SCVAE_SOURCE_MODELS_DIR="${PROJECT_SOURCE_DIR}/models"
    SCVAE_INSTALL_MODELS_DIR="${CMAKE_INSTALL_PREFIX}/share/scvae/models")
endfunction()

# scvae_tools (the drivers and tools/common, over scvae) from SOURCES, and the programs PROGRAMS
# (tools/NAME/main.cpp each) into bin/.
function(scvae_add_tools)
  cmake_parse_arguments(T "" "" "SOURCES;PROGRAMS" ${ARGN})
  add_library(scvae_tools STATIC ${T_SOURCES})
  target_include_directories(scvae_tools PUBLIC ${PROJECT_SOURCE_DIR}/tools/common ${PROJECT_SOURCE_DIR}/tools)
  target_link_libraries(scvae_tools PUBLIC scvae cxxopts::cxxopts)
  target_compile_options(scvae_tools PRIVATE -Wall -Wextra)
  foreach(name ${T_PROGRAMS})
    add_executable(${name} ${PROJECT_SOURCE_DIR}/tools/${name}/main.cpp)
    target_link_libraries(${name} PRIVATE scvae_tools)
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
