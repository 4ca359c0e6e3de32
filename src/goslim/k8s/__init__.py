"""Kubernetes manifests for a verified image: Deployment (+ canary) and Service."""

from goslim.k8s.image import PinnedImage, resolve_image
from goslim.k8s.manifests import (
    build_manifests,
    grace_period,
    name_from_repository,
    probes_from_contract,
    split_replicas,
    startup_window,
)
from goslim.k8s.models import K8sInput, Manifests, Probe, Probes, Resources, TimingChoice
from goslim.k8s.plan import plan_k8s

__all__ = [
    "K8sInput",
    "Manifests",
    "PinnedImage",
    "Probe",
    "Probes",
    "Resources",
    "TimingChoice",
    "build_manifests",
    "grace_period",
    "name_from_repository",
    "plan_k8s",
    "probes_from_contract",
    "resolve_image",
    "split_replicas",
    "startup_window",
]
