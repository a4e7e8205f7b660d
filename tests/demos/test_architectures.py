"""The seed's architectures: layer names that do not depend on what the process built before."""

from quantlab.demos.architectures import fashion_convnet, housing_mlp, mnist_convnet


def test_layer_names_are_stable_across_builds():
    first = [[la.name for la in build().layers] for build in (housing_mlp, mnist_convnet, fashion_convnet)]
    again = [[la.name for la in build().layers] for build in (fashion_convnet, mnist_convnet, housing_mlp)]
    assert first == again[::-1]
    assert first[1][:3] == ["conv1", "conv2", "pool1"] and first[2][0] == "input_bn"


def test_parameter_counts_match_the_seed_architectures():
    # layer sizes of model_housing.js and model_mnist.js, counted by hand
    assert housing_mlp().count_params() == 8 * 80 + 80 + 80 * 120 + 120 + 120 * 20 + 20 + 20 * 10 + 10 + 11
    convs = (9 * 1 * 32 + 32) + (9 * 32 * 32 + 32) + (9 * 32 * 64 + 64) + (9 * 64 * 64 + 64)
    assert mnist_convnet().count_params() == convs + (4 * 4 * 64 * 512 + 512) + (512 * 10 + 10)
