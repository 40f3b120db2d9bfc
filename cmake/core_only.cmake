# The torch-free core of lib/ alone (SCVAE_SANITIZE, SCVAE_FUZZ; see the top CMakeLists.txt): every lib/src file
# outside the LibTorch list of cmake/sources.cmake, the torch-free unit tests, the fuzz targets, and the two tools
# that need no network (scvae-cluster, scvae-edit), whose Bats tests scripts/sanitize.sh runs under the
# sanitizers. Included from the top CMakeLists.txt, which returns after it.
scvae_find_dependencies()

include(cmake/sources.cmake)
scvae_add_library(scvae ${SCVAE_CORE_SOURCES} ${SCVAE_LIGHT_SOURCES})  # with the torch-free Codec
if(SCVAE_FUZZ)
  scvae_add_tools(SOURCES ${SCVAE_CORE_TOOLS_SOURCES})
else()
  scvae_add_tools(SOURCES ${SCVAE_CORE_TOOLS_SOURCES} PROGRAMS scvae-cluster scvae-edit)
endif()

scvae_add_tests()  # fuzz/ (replay tests) and tests/
