"""mptcpspec: an executable specification of Multipath TCP (RFC 8684, RFC 6824)."""

__version__ = "0.1.0"

__all__ = ["__version__"]
