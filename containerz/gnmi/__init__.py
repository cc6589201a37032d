"""A small gNMI server (Capabilities, Get, Subscribe) over :class:`containerz.platform.Platform`."""
