# The source lists, for the full build (CMakeLists.txt) and the torch-free core build (cmake/core_only.cmake).
#
# The LibTorch boundary, stated once: the files of SCVAE_TORCH_SOURCES, and no others, include <torch/torch.h>
# (through a precompiled header) or the private headers that do (model/networks.h, train/dist.h). Every other
# file of lib/ and tools/ compiles without LibTorch; configuring fails if one includes it.
set(SCVAE_TORCH_SOURCES
  lib/src/model/networks.cpp      # encoder, LISTA, decoder, VQ (the SCVAE module)
  lib/src/model/codec.cpp         # Codec: model files <-> the network; encode/decode batches
  lib/src/train/train.cpp         # the training loop, checkpoints, validation
  lib/src/train/dist.cpp          # data-parallel gradient all-reduce over Gloo
  lib/src/metrics/perceptual.cpp  # LPIPS / FID feature networks (TorchScript)
)
list(TRANSFORM SCVAE_TORCH_SOURCES PREPEND "${PROJECT_SOURCE_DIR}/")

# The Codec of the torch-free tools (the inference engine of lib/src/infer/ instead of the LibTorch modules): it
# defines the same Codec as model/codec.cpp, so a program links one or the other (CMakeLists.txt,
# SCVAE_LIGHT_TOOLS).
set(SCVAE_LIGHT_SOURCES ${PROJECT_SOURCE_DIR}/lib/src/model/codec_light.cpp)

file(GLOB_RECURSE SCVAE_LIB_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/lib/src/*.cpp)
list(REMOVE_ITEM SCVAE_LIB_SOURCES ${SCVAE_LIGHT_SOURCES})
set(SCVAE_CORE_SOURCES ${SCVAE_LIB_SOURCES})
list(REMOVE_ITEM SCVAE_CORE_SOURCES ${SCVAE_TORCH_SOURCES})

# the tools: one folder each (tools/scvae-NAME/main.cpp and its driver); the drivers and tools/common make the
# tools library
set(SCVAE_TOOL_NAMES scvae-cluster scvae-decode scvae-edit scvae-encode scvae-metrics scvae-model scvae-segment
    scvae-train)
file(GLOB_RECURSE SCVAE_TOOLS_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tools/*.cpp)
list(FILTER SCVAE_TOOLS_SOURCES EXCLUDE REGEX ".*/main\\.cpp$")
# the torch-free tools' part (cmake/core_only.cmake builds scvae-cluster and scvae-edit under sanitizers)
set(SCVAE_CORE_TOOLS_SOURCES ${SCVAE_TOOLS_SOURCES})
list(FILTER SCVAE_CORE_TOOLS_SOURCES INCLUDE REGEX ".*/tools/(common|scvae-cluster|scvae-edit)/[^/]*\\.cpp$")
# the tools that need no LibTorch, built on the torch-free Codec (model/codec_light.cpp) by default: they start in
# milliseconds; and their part of tools/. scvae-train, scvae-metrics (LPIPS/FID) and scvae-model (a new model's
# weights, export) run LibTorch.
set(SCVAE_LIGHT_TOOL_NAMES scvae-cluster scvae-decode scvae-edit scvae-encode scvae-segment)
set(SCVAE_LIGHT_TOOLS_SOURCES ${SCVAE_TOOLS_SOURCES})
list(FILTER SCVAE_LIGHT_TOOLS_SOURCES INCLUDE REGEX
     ".*/tools/(common|scvae-cluster|scvae-decode|scvae-edit|scvae-encode|scvae-segment)/[^/]*\\.cpp$")

foreach(src ${SCVAE_CORE_SOURCES} ${SCVAE_TOOLS_SOURCES})
  file(STRINGS ${src} torch_includes REGEX "#include [<\"](torch/|model/networks\\.h|train/dist\\.h)")
  if(torch_includes)
    message(FATAL_ERROR "${src} includes LibTorch but is not in SCVAE_TORCH_SOURCES (cmake/sources.cmake)")
  endif()
endforeach()
