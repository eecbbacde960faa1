"""The version the embedded API server reports (``/version``), a leaf every layer may import."""

VERSION = {
    "major": "1", "minor": "37", "emulationMajor": "1", "emulationMinor": "37",
    "minCompatibilityMajor": "1", "minCompatibilityMinor": "36",
    "gitVersion": "v1.37.0-kubesim", "gitCommit": "kubesim-embedded-cluster",
    "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "n/a (python)",
    "compiler": "kubesim", "platform": "linux/amd64",
}
