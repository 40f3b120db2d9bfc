# cmake/packaging.cmake - installing scvae and packaging it as .deb files (CPack).
#
#   cmake --install build --prefix /usr/local     the tools, man pages, completions, default model, libscvae
#   cd build && cpack -G DEB                      scvae_<v>_<arch>.deb (tools) and libscvae-dev_<v>_<arch>.deb
#
# Components: "tools" (programs, man pages, shell completions, the default model) and "dev" (libscvae.a, its
# headers, the CMake package config and scvae.pc). A plain `cmake --install` installs both.
include(GNUInstallDirs)

# Which LibTorch this build uses (Debian's, or one given by -DCMAKE_PREFIX_PATH=/path/libtorch or -DTorch_DIR).
message(STATUS "scvae: LibTorch ${Torch_VERSION} from ${Torch_DIR}")
include(CMakePackageConfigHelpers)

# Tools linked against a LibTorch outside the system directories (the official CUDA build in ~/libtorch)
# keep its library path in their installed RUNPATH; Debian's libraries are in the default path and add none.
set_target_properties(${SCVAE_TOOLS} PROPERTIES INSTALL_RPATH_USE_LINK_PATH ON)

install(FILES man/scvae.7 DESTINATION ${CMAKE_INSTALL_MANDIR}/man7 COMPONENT tools)
# bash-completion loads completions/<command> on first use: one file, one link per program.
install(FILES completions/scvae.bash DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
        RENAME scvae COMPONENT tools)
foreach(tool ${SCVAE_TOOLS})
  install(CODE "file(CREATE_LINK scvae
    \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DATADIR}/bash-completion/completions/${tool}\" SYMBOLIC)"
    COMPONENT tools)
endforeach()
# Debian's zsh reads $fpath's /usr/share/zsh/vendor-completions (the place for packaged completions).
file(GLOB SCVAE_ZSH_COMPLETIONS ${PROJECT_SOURCE_DIR}/completions/_scvae-*)
install(FILES ${SCVAE_ZSH_COMPLETIONS} DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions COMPONENT tools)

# ---- libscvae: static library, public headers, CMake package config (scvae::scvae), pkg-config (scvae.pc)
install(TARGETS scvae EXPORT scvaeTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY lib/include/scvae DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)
install(EXPORT scvaeTargets NAMESPACE scvae:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/scvae COMPONENT dev)
configure_package_config_file(cmake/scvaeConfig.cmake.in ${PROJECT_BINARY_DIR}/scvaeConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/scvae)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/scvaeConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/scvaeConfig.cmake ${PROJECT_BINARY_DIR}/scvaeConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/scvae COMPONENT dev)
# LibTorch has no pkg-config file: scvae.pc names its libraries from the LibTorch this build used.
get_filename_component(SCVAE_TORCH_LIBDIR "${c10_LIBRARY}" DIRECTORY)
set(SCVAE_TORCH_RPATH "")
if(NOT SCVAE_TORCH_LIBDIR IN_LIST CMAKE_CXX_IMPLICIT_LINK_DIRECTORIES)
  set(SCVAE_TORCH_RPATH "-Wl,-rpath,${SCVAE_TORCH_LIBDIR} ")
endif()
set(SCVAE_TORCH_CUDA_LIBS "")
if(C10_CUDA_LIBRARY OR TARGET torch_cuda)
  set(SCVAE_TORCH_CUDA_LIBS "-ltorch_cuda -lc10_cuda ")
endif()
# prefix relative to the .pc file, so that a relocated install (dpkg-deb -x DIR, DESTDIR) is self-consistent
file(RELATIVE_PATH SCVAE_PC_TO_PREFIX "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
string(REGEX REPLACE "/$" "" SCVAE_PC_TO_PREFIX "${SCVAE_PC_TO_PREFIX}")
configure_file(cmake/scvae.pc.in ${PROJECT_BINARY_DIR}/scvae.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/scvae.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

# ---- CPack: Debian packages. Runtime dependencies of the tools come from dpkg-shlibdeps (the packages that
# hold the shared libraries they link); the -dev package depends on the -dev packages of its headers and libs.
set(CPACK_PACKAGE_NAME scvae)
set(CPACK_PACKAGE_VENDOR "scvae")
set(CPACK_PACKAGE_CONTACT "scvae maintainers <scvae@localhost>")
# (no CPACK_PACKAGE_DESCRIPTION_SUMMARY: the first line of each CPACK_DEBIAN_<COMPONENT>_DESCRIPTION is its summary)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_GENERATOR DEB)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL tools dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_COMPRESSION_TYPE gzip)  # the default model is 16 MB of floats: xz takes a minute for 10 %
set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME scvae)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SHLIBDEPS ON)
# OpenBLAS is loaded through the BLAS alternative, not linked by name: without it matrix products are 10x slower.
set(CPACK_DEBIAN_TOOLS_PACKAGE_RECOMMENDS "libopenblas0-pthread, bash-completion")
set(CPACK_DEBIAN_TOOLS_DESCRIPTION
    "SC-VAE image codes: encode, decode, train, cluster, segment\nSmall Unix programs over sparse-coding VAE codes, with the bundled default model in\n/usr/share/scvae/models. man scvae gives an overview.")
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libscvae-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "libtorch-dev, libfaiss-dev, libdnnl-dev, libpng-dev, libjpeg-dev, zlib1g-dev, nlohmann-json3-dev, liblapack-dev | libopenblas-dev")
set(CPACK_DEBIAN_DEV_DESCRIPTION
    "SC-VAE image codes: static library and headers\nlibscvae.a, its headers, a CMake package config (find_package(scvae), target scvae::scvae)\nand a pkg-config file (scvae.pc).")
include(CPack)
