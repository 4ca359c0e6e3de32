import io
import tarfile

from goslim.probe import ProbeSpec
from goslim.sizes import gzip_size
from goslim.upx.measure import LAYER_MEMBER, StartupPlan, kubernetes_env, launch_env, layer_sizes


def test_kubernetes_env_has_the_shape_of_service_links():
    env = kubernetes_env(1000)
    assert len(env) == 1000
    assert env["PAYMENTS_API_0000_SERVICE_HOST"] == "10.96.0.1"
    assert env["PAYMENTS_API_0000_PORT"] == "tcp://10.96.0.1:8080"
    assert env["PAYMENTS_API_0001_PORT_8081_TCP_PROTO"] == "tcp"
    assert 30_000 < sum(len(k) + len(v) + 2 for k, v in env.items()) < 80_000


def test_launch_env_is_small_and_passes_the_port():
    env = launch_env(ProbeSpec("http", 8080), {"EXTRA": "1"})
    assert env["PORT"] == "8080" and env["EXTRA"] == "1" and "PATH" in env
    assert "PORT" not in launch_env(None)


def test_layer_sizes_measure_a_one_file_tar(tmp_path):
    data = bytes(range(256)) * 400
    path = tmp_path / "bin"
    path.write_bytes(data)
    sizes = layer_sizes(path)
    assert sizes.size == len(data)
    assert 0 < sizes.gzip < len(data) and 0 < sizes.zstd < len(data)
    assert sizes.gzip > gzip_size(data)  # the tar header and padding are counted too


def test_layer_tar_is_deterministic_and_holds_the_binary(tmp_path, monkeypatch):
    path = tmp_path / "bin"
    path.write_bytes(b"\x7fELF" + bytes(1000))
    captured = []
    monkeypatch.setattr("goslim.upx.measure.gzip_size", lambda b: captured.append(b) or len(b))
    layer_sizes(path)
    layer_sizes(path)
    assert captured[0] == captured[1]
    with tarfile.open(fileobj=io.BytesIO(captured[0])) as tar:
        member = tar.getmember(LAYER_MEMBER)
        assert member.mode == 0o755 and member.mtime == 0 and member.size == 1004


def test_startup_method_text_says_what_was_timed():
    assert "--version" in StartupPlan("--version", "v1", None).startup_method()
    plan = StartupPlan(None, "", ProbeSpec("tcp", 9000))
    assert plan.startup_method().startswith("exec to ready") and "TCP :9000" in plan.ready_method()
