"""Which images the embedded cluster can have (images.pull_failure), without a server: the
images the labs use pull; a tag a profile does not publish, a typo of a known repository, a
name that is no official image and an unresolvable registry fail in containerd's words."""

from __future__ import annotations

import pytest

from kubesim.dataplane.images import pull_failure

PULLS = ["nginx", "nginx:1.29", "nginx:1.30", "nginx:latest", "nginx:1.29.4-alpine",
         "nginx:stable-alpine", "docker.io/library/nginx:1.29", "busybox", "busybox:1.37",
         "alpine:3.20", "amsy810/echo-nginx:v2.0", "amsy810/tools:v2.0", "nicolaka/netshoot",
         "curlimages/curl", "httpd:2.4", "registry.k8s.io/coredns/coredns:v1.12.1",
         "registry.k8s.io/e2e-test-images/agnhost:2.53", "ubuntu:24.04", "someuser/app:1",
         "ghcr.io/someone/tool:v1", "nginx@sha256:" + "a" * 64,
         "registry.invalid/app:1"]   # the differential suite's any-image


@pytest.mark.parametrize("image", PULLS)
def test_images_that_pull(image: str) -> None:
    assert pull_failure(image) is None


def test_a_tag_nginx_does_not_publish() -> None:
    f = pull_failure("nginx:1.299")
    assert f is not None and f.reason == "ErrImagePull"
    assert f.message == (
        'rpc error: code = NotFound desc = failed to pull and unpack image '
        '"docker.io/library/nginx:1.299": failed to resolve reference '
        '"docker.io/library/nginx:1.299": docker.io/library/nginx:1.299: not found')
    for tag in ("1.29.99", "1.27.1alpine", "9.9", "v1.29"):
        assert pull_failure(f"nginx:{tag}") is not None, tag


@pytest.mark.parametrize("image,ref", [("ngnix", "docker.io/library/ngnix:latest"),
                                       ("myapp:1.0", "docker.io/library/myapp:1.0"),
                                       ("amsy810/echo-ngnix:v2.0",
                                        "docker.io/amsy810/echo-ngnix:v2.0"),
                                       ("nicolaka/netshot", "docker.io/nicolaka/netshot:latest")])
def test_repositories_that_do_not_exist(image: str, ref: str) -> None:
    f = pull_failure(image)
    assert f is not None and f.message == (
        f'failed to pull and unpack image "{ref}": failed to resolve reference "{ref}": pull '
        "access denied, repository does not exist or may require authorization: server "
        "message: insufficient_scope: authorization failed")


def test_registries_that_do_not_answer() -> None:
    f = pull_failure("myregistry.local/web:1.0")
    assert f is not None and f.message.endswith(
        'failed to do request: Head "https://myregistry.local/v2/web/manifests/1.0": dial tcp: '
        "lookup myregistry.local on 172.18.0.1:53: no such host")
    f = pull_failure("localhost:5000/app")
    assert f is not None and f.message.endswith(
        "dial tcp 127.0.0.1:5000: connect: connection refused")


def test_references_that_do_not_parse() -> None:
    f = pull_failure("Nginx")
    assert f is not None and (f.reason, f.message) == (
        "InvalidImageName", 'Failed to apply default image tag "Nginx": couldn\'t parse image '
        'name "Nginx": invalid reference format: repository name (library/Nginx) must be '
        "lowercase")
