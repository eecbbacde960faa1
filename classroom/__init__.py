"""Classroom workshops: one JupyterHub for a room of students, each with their own JupyterLab and
embedded cluster (own Unix user, own loopback address), an instructor's scoreboard, and grades as
CSV or GitHub Classroom results. Instructor's guide: docs/classroom.md."""
