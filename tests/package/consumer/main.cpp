// A program outside the scvae tree that links the installed libscvae: loads a model, encodes an image and
// decodes it again (the LibTorch code in libscvae.a has to link for this).
#include <iostream>

#include "scvae/image.h"
#include "scvae/model.h"

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: consumer MODEL IMAGE\n";
        return 2;
    }
    scvae::Codec codec = scvae::Codec::load(argv[1]);
    scvae::Image image = scvae::to_rgb(scvae::read_image(argv[2]));
    auto records = codec.encode({image}, {argv[2]});
    scvae::Image back = codec.decode(records.at(0));
    std::cout << "n=" << codec.config().n << " K=" << codec.config().K << " decoded " << back.width << "x"
              << back.height << "\n";
    return 0;
}
