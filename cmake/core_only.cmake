# The torch-free core of lib/ alone (SCVAE_SANITIZE, SCVAE_FUZZ; see the top CMakeLists.txt): every lib/src file
# but torch_*.cpp and the two that drive the networks (codec_tools.cpp, train_launch.cpp), the torch-free unit
# tests, the fuzz targets, and the two tools that need no network (scvae-cluster, scvae-edit), whose Bats tests
# scripts/sanitize.sh runs under the sanitizers. Included from the top CMakeLists.txt, which returns after it.
find_package(PNG REQUIRED)
find_package(JPEG REQUIRED)
find_package(ZLIB REQUIRED)
find_package(Threads REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(cxxopts REQUIRED)
find_package(OpenMP REQUIRED)
find_package(faiss REQUIRED)
find_library(SCVAE_LAPACK NAMES lapack REQUIRED)

file(GLOB SCVAE_CORE_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/lib/src/*.cpp)
list(FILTER SCVAE_CORE_SOURCES EXCLUDE REGEX ".*/(torch_[^/]*|codec_tools|train_launch)\\.cpp$")
add_library(scvae STATIC ${SCVAE_CORE_SOURCES})
target_include_directories(scvae PUBLIC ${PROJECT_SOURCE_DIR}/lib/include PRIVATE ${PROJECT_SOURCE_DIR}/lib/src)
target_link_libraries(scvae PUBLIC nlohmann_json::nlohmann_json cxxopts::cxxopts faiss
                      PNG::PNG JPEG::JPEG ZLIB::ZLIB Threads::Threads ${SCVAE_LAPACK})
target_compile_options(scvae PRIVATE -Wall -Wextra -Wno-deprecated-declarations)
target_compile_definitions(scvae PRIVATE
  SCVAE_VERSION="${PROJECT_VERSION}"
  SCVAE_SOURCE_MODELS_DIR="${PROJECT_SOURCE_DIR}/models"
  SCVAE_INSTALL_MODELS_DIR="${CMAKE_INSTALL_PREFIX}/share/scvae/models")

if(NOT SCVAE_FUZZ)
  foreach(name scvae-cluster scvae-edit)
    add_executable(${name} ${PROJECT_SOURCE_DIR}/tools/${name}.cpp)
    target_link_libraries(${name} PRIVATE scvae)
    target_compile_options(${name} PRIVATE -Wall -Wextra)
    set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bin)
  endforeach()
endif()

if(SCVAE_BUILD_TESTS)
  enable_testing()
endif()
add_subdirectory(fuzz)
if(SCVAE_BUILD_TESTS)
  add_subdirectory(tests)
endif()
