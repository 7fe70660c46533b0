"""visual-centrifuge: separate a video into its layers.

Public API (more arrives with each subsystem): see README.
"""

__version__ = "0.1.0"
