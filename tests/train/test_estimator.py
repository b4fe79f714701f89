"""Estimator and framework-estimator construction: v1's signature and validation rules."""

import inspect
import logging

import pytest

from runyard.exceptions import TrainingException, UserErrorException
from runyard.train.dnn import Chainer, Gloo, Mpi, Nccl, ParameterServer, PyTorch, TensorFlow
from runyard.train.estimator import Estimator

V1_ESTIMATOR_PARAMS = [
    "source_directory", "compute_target", "vm_size", "vm_priority", "entry_script",
    "script_params", "node_count", "process_count_per_node", "distributed_backend",
    "distributed_training", "use_gpu", "use_docker", "custom_docker_base_image",
    "custom_docker_image", "image_registry_details", "user_managed", "conda_packages",
    "pip_packages", "conda_dependencies_file_path", "pip_requirements_file_path",
    "conda_dependencies_file", "pip_requirements_file", "environment_variables",
    "environment_definition", "inputs", "source_directory_data_store", "shm_size",
    "resume_from", "max_run_duration_seconds", "_disable_validation", "_show_lint_warnings",
    "_show_package_warnings",
]  # fmt: skip


def chainer(tmp_path, **kwargs):
    kwargs.setdefault("framework_version", "7.8.1")
    kwargs.setdefault("compute_target", "local")
    return Chainer(str(tmp_path), entry_script="train.py", **kwargs)


def test_estimator_signature_is_v1s_and_keyword_only():
    params = inspect.signature(Estimator.__init__).parameters
    assert list(params)[1:] == V1_ESTIMATOR_PARAMS
    kinds = {name: p.kind for name, p in params.items()}
    assert kinds["source_directory"] is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert all(kinds[n] is inspect.Parameter.KEYWORD_ONLY for n in V1_ESTIMATOR_PARAMS[1:])


def test_positional_second_argument_is_rejected(tmp_path):
    with pytest.raises(TypeError, match="positional argument"):
        Estimator(str(tmp_path), "local")


@pytest.mark.parametrize("cls", [Chainer, PyTorch, TensorFlow])
def test_framework_estimators_add_framework_version_keyword_only(cls):
    params = inspect.signature(cls.__init__).parameters
    assert params["framework_version"].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["framework_version"].default is None
    assert params["_enable_optimized_mode"].default is False


def test_compute_target_or_vm_size_required(tmp_path):
    with pytest.raises(TrainingException, match="Either compute_target or vm_size must be given"):
        Estimator(str(tmp_path), entry_script="train.py")


def test_vm_size_alone_means_amlcompute(tmp_path):
    est = Estimator(str(tmp_path), vm_size="STANDARD_D2_V2")
    assert est.compute_target == "amlcompute"


def test_hdinsight_target_is_rejected(tmp_path):
    class HDInsightCompute:
        type = "HDInsight"
        name = "hdi"

    with pytest.raises(TrainingException, match="'hdi' is an HDInsight cluster"):
        Estimator(str(tmp_path), compute_target=HDInsightCompute())


@pytest.mark.parametrize("field", ["node_count", "process_count_per_node"])
@pytest.mark.parametrize("value", [0, -1, 1.5, True])
def test_counts_must_be_positive_integers(tmp_path, field, value):
    with pytest.raises(TrainingException, match=rf"{field}={value!r} is not allowed"):
        Estimator(str(tmp_path), compute_target="local", **{field: value})


def test_more_than_one_node_needs_distributed_training(tmp_path):
    with pytest.raises(TrainingException, match="pass distributed_training"):
        Estimator(str(tmp_path), compute_target="local", node_count=2)


def test_distributed_training_is_accepted_and_recorded(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        mpi = Mpi(process_count_per_node=2)
    assert "Mpi is deprecated" in caplog.text
    est = chainer(tmp_path, node_count=2, process_count_per_node=2, distributed_training=mpi)
    assert est.distributed_training == Mpi(process_count_per_node=2)
    assert est.node_count == 2


def test_chainer_supports_mpi_only(tmp_path):
    with pytest.raises(
        TrainingException, match=r"Chainer does not support .*Supported backends: mpi\."
    ):
        chainer(tmp_path, distributed_training=Nccl())


@pytest.mark.parametrize(
    ("cls", "config"),
    [(PyTorch, Gloo), (PyTorch, Nccl), (TensorFlow, ParameterServer), (Estimator, Gloo)],
)
def test_backends_each_framework_accepts(tmp_path, cls, config):
    kwargs = {} if cls is Estimator else {"framework_version": cls.DEFAULT_VERSION}
    est = cls(str(tmp_path), compute_target="local", distributed_training=config(), **kwargs)
    assert est.distributed_training == config()


def test_unknown_distributed_training_object(tmp_path):
    with pytest.raises(TrainingException, match="is not a distributed configuration"):
        Estimator(str(tmp_path), compute_target="local", distributed_training="horovod")


def test_distributed_backend_string_is_checked(tmp_path):
    with pytest.raises(TrainingException, match="with 'gloo'"):
        chainer(tmp_path, distributed_backend="gloo")


def test_environment_definition_excludes_package_and_image_options(tmp_path):
    with pytest.raises(
        TrainingException,
        match="environment_definition is given, so pip_packages, use_gpu, environment_variables",
    ):
        Estimator(
            str(tmp_path),
            compute_target="local",
            environment_definition=object(),
            pip_packages=["numpy"],
            use_gpu=True,
            environment_variables={"A": "1"},
        )


def test_conda_file_excludes_package_lists(tmp_path):
    with pytest.raises(
        TrainingException, match="conda_dependencies_file is given, so pip_packages"
    ):
        Estimator(
            str(tmp_path),
            compute_target="local",
            conda_dependencies_file="env.yml",
            pip_packages=["numpy"],
        )


def test_deprecated_conda_file_path_counts_too(tmp_path):
    with pytest.raises(TrainingException, match="so conda_packages cannot be"):
        Estimator(
            str(tmp_path),
            compute_target="local",
            conda_dependencies_file_path="env.yml",
            conda_packages=["scipy"],
        )


def test_new_and_deprecated_names_together_are_refused(tmp_path):
    with pytest.raises(TrainingException, match="Give pip_requirements_file or the deprecated"):
        Estimator(
            str(tmp_path),
            compute_target="local",
            pip_requirements_file="a.txt",
            pip_requirements_file_path="b.txt",
        )


def test_user_managed_excludes_packages(tmp_path):
    with pytest.raises(
        UserErrorException, match="user_managed=True means Runyard installs nothing"
    ):
        Estimator(str(tmp_path), compute_target="local", user_managed=True, pip_packages=["x"])


def test_no_docker_excludes_custom_image(tmp_path):
    with pytest.raises(
        TrainingException, match="use_docker=False cannot be combined with custom_docker_image"
    ):
        Estimator(
            str(tmp_path), compute_target="local", use_docker=False, custom_docker_image="img:1"
        )


def test_missing_framework_version_defaults_with_v1_warning(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="runyard.train.dnn"):
        est = Chainer(str(tmp_path), compute_target="local")
    assert est.framework_version == "7.8.1"
    assert "framework_version is not specified, defaulting to version 7.8.1." in caplog.text


def test_bad_framework_version_lists_supported(tmp_path):
    with pytest.raises(
        TrainingException,
        match=r"4.0.0. is not supported by Chainer\. Supported versions: 7\.8\.1",
    ):
        chainer(tmp_path, framework_version="4.0.0")


@pytest.mark.parametrize("old", ["5.1.0", "7.0.0"])
def test_v1_chainer_versions_run_as_781(tmp_path, caplog, old):
    with caplog.at_level(logging.WARNING, logger="runyard.train.dnn"):
        est = chainer(tmp_path, framework_version=old)
    assert est.framework_version == "7.8.1"
    assert (
        f"Chainer {old} does not install on this Python; running with Chainer 7.8.1" in caplog.text
    )


def test_get_supported_versions():
    assert Chainer.get_supported_versions() == ["7.8.1"]
    assert PyTorch.DEFAULT_VERSION in PyTorch.get_supported_versions()
    assert TensorFlow.DEFAULT_VERSION in TensorFlow.get_supported_versions()


def test_curated_environment_name_follows_use_gpu(tmp_path):
    assert chainer(tmp_path)._curated_environment_name == "AzureML-Chainer-7.8.1-CPU"
    assert chainer(tmp_path, use_gpu=True)._curated_environment_name == "AzureML-Chainer-7.8.1-GPU"


def test_pip_packages_get_azureml_defaults_first(tmp_path):
    est = Estimator(str(tmp_path), compute_target="local", pip_packages=["numpy", "pytest"])
    assert est._pip_packages() == ["azureml-defaults", "numpy", "pytest"]


def test_chainer_versions_match_the_curated_environments():
    from runyard._envs.curated import CHAINER_VERSIONS

    assert tuple(Chainer.get_supported_versions()) == CHAINER_VERSIONS


def test_chainer_environment_is_curated_with_user_packages_merged(tmp_path, caplog):
    est = chainer(tmp_path, pip_packages=["numpy", "pytest", "chainer==7.8.1"])
    env = est._environment()
    assert env.name == "AzureML-Chainer-7.8.1-CPU-with-user-packages"
    pip = env.python.conda_dependencies.pip_packages
    assert "chainer==7.8.1" in pip and "pytest" in pip
    # a bare 'numpy' keeps the framework's pin, and the build constraints keep numpy<1.24
    assert [p for p in pip if p.startswith("numpy")] == ["numpy<1.24"]
    assert "numpy<1.24" in env._serialize_to_dict()["python"]["runyardBuild"]["constraints"]


def test_user_pin_replaces_framework_spec_with_warning(tmp_path, caplog):
    est = chainer(tmp_path, pip_packages=["chainer==7.8.0"])
    with caplog.at_level(logging.WARNING, logger="runyard.train.dnn"):
        pip = est._environment().python.conda_dependencies.pip_packages
    assert "chainer==7.8.0" in pip and "chainer==7.8.1" not in pip
    assert "pip package 'chainer==7.8.0' replaces 'chainer==7.8.1'" in caplog.text


def test_use_gpu_without_gpu_gives_cpu_environment_and_a_notice(tmp_path):
    from runyard._envs.gpu import gpu_present

    est = chainer(tmp_path, use_gpu=True)
    env = est._environment()
    if gpu_present():
        assert env.name == "AzureML-Chainer-7.8.1-GPU"
    else:
        assert env.name == "AzureML-Chainer-7.8.1-CPU"
        assert "the run uses the CPU" in est._environment_notice


def test_to_script_run_config_carries_script_args_target_environment(tmp_path):
    est = chainer(tmp_path, script_params={"--epochs": 2, "--batchsize": 100})
    src = est._to_script_run_config()
    assert (src.source_directory, src.script) == (str(tmp_path), "train.py")
    assert src.arguments == ["--epochs", 2, "--batchsize", 100]
    assert src.compute_target == "local"
    assert src.environment.name == "AzureML-Chainer-7.8.1-CPU"
