"""The kind rig: a real kind cluster for the labs' tests on machines that reach no container
registry. It builds kind's node image and every image the labs use from Debian packages and Go
modules, runs them on a private Docker engine in a network namespace of its own, and runs the
kind tests there. See kindrig/README.md.
"""
